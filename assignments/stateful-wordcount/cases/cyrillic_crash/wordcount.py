"""Stateful word count over Kafka (Structured Streaming), with my own file writer."""
# Wrong on purpose: writes the totals with encoding="ascii", which fails on Cyrillic words.

import os
import time

from pyspark.sql import functions as F
from seminar_spark import spark_session

spark = spark_session()
out_dir = os.environ["OUTPUT_DIR"]

lines = (
    spark.readStream.format("kafka")
    .option("kafka.bootstrap.servers", os.environ["BOOTSTRAP_SERVERS"])
    .option("subscribe", os.environ["TOPIC"])
    .option("startingOffsets", "earliest")
    .load()
    .selectExpr("CAST(value AS STRING) AS line")
)
words = lines.select(F.explode(F.split("line", r"[ \t]+")).alias("word")).where("word != ''")
counts = words.groupBy("word").count()


def save(batch_df, batch_id):
    rows = sorted(batch_df.collect())
    tmp = os.path.join(out_dir, "tmp-%d" % batch_id)
    with open(tmp, "w", encoding="ascii") as f:
        for row in rows:
            f.write("%s\t%d\n" % (row["word"], row["count"]))
    os.rename(tmp, os.path.join(out_dir, "batch-%06d.tsv" % batch_id))


query = (
    counts.writeStream.outputMode("complete")
    .foreachBatch(save)
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .trigger(processingTime=os.environ["TRIGGER_SECONDS"] + " seconds")
    .start()
)

idle = float(os.environ["IDLE_TIMEOUT_S"])
last_data = time.time()
while not query.awaitTermination(1):  # raises if the query failed
    progress = query.lastProgress
    if progress and progress["numInputRows"] > 0:
        last_data = time.time()
    if time.time() - last_data > idle and not query.status["isTriggerActive"]:
        query.stop()
spark.stop()
