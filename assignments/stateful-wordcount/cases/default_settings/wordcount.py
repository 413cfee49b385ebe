"""Stateful word count over Kafka with Structured Streaming, with my own SparkSession."""
# Correct but slow on purpose: the session is built by hand instead of seminar_spark.spark_session(),
# so the stateful groupBy runs with Spark's default 200 shuffle partitions and every micro-batch takes
# 10-30 s on 2 cores. The grader has to wait for it (its time budget is large enough).

import os
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

spark = (
    SparkSession.builder.master("local[2]")
    .appName("wordcount")
    .config("spark.jars", os.environ["SPARK_KAFKA_JARS"])
    .config("spark.driver.memory", "1g")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("WARN")

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


def save(batch_df, batch_id):
    out_dir = os.environ["OUTPUT_DIR"]
    rows = batch_df.collect()
    tmp = os.path.join(out_dir, ".batch-%06d.tmp" % batch_id)
    with open(tmp, "w", encoding="utf-8") as f:
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

idle_limit = float(os.environ["IDLE_TIMEOUT_S"])
last_rows = time.time()
seen = -1
while query.isActive:
    time.sleep(0.5)
    for p in query.recentProgress:
        if p["batchId"] > seen:
            seen = p["batchId"]
            if p["numInputRows"] > 0:
                last_rows = time.time()
    if time.time() - last_rows > idle_limit and not query.status["isTriggerActive"]:
        query.stop()
spark.stop()
