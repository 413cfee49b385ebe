"""A correct stateful word count that writes its totals with Spark's own CSV writer.

df.write.csv(path) makes ``path`` a folder of part files, so OUTPUT_DIR/batch-000003.tsv is a
folder, not the one file per micro-batch the contract asks for. Everything else is right: it
reads Kafka, keeps state in CHECKPOINT_DIR and stops by itself.
"""

import os
import time

from pyspark.sql import functions as F
from seminar_spark import spark_session

spark = spark_session("wordcount-csv")
out = os.environ["OUTPUT_DIR"]
idle = float(os.environ["IDLE_TIMEOUT_S"])

lines = (
    spark.readStream.format("kafka")
    .option("kafka.bootstrap.servers", os.environ["BOOTSTRAP_SERVERS"])
    .option("subscribe", os.environ["TOPIC"])
    .option("startingOffsets", "earliest")
    .load()
    .selectExpr("CAST(value AS STRING) AS line")
)
words = lines.select(F.explode(F.split("line", r"\s+")).alias("word")).where("word != ''")
counts = words.groupBy("word").count()


def save(df, batch_id):
    df.coalesce(1).write.mode("overwrite").option("sep", "\t").csv(f"{out}/batch-{batch_id:06d}.tsv")


query = (
    counts.writeStream.outputMode("complete")
    .foreachBatch(save)
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .trigger(processingTime=f"{os.environ['TRIGGER_SECONDS']} seconds")
    .start()
)

last_rows, seen = time.monotonic(), -1
while query.isActive:
    time.sleep(0.5)
    for p in query.recentProgress:
        if p["batchId"] > seen:
            seen = p["batchId"]
            if p["numInputRows"] > 0:
                last_rows = time.monotonic()
    if time.monotonic() - last_rows > idle and not query.status["isTriggerActive"]:
        query.stop()
spark.stop()
