"""Stateful word count over Kafka (Structured Streaming)."""
# Wrong on purpose: splits on a single space like the seminar, so "a  b" gives an empty word.

import os
import time

from pyspark.sql import functions as F
from seminar_spark import spark_session, write_totals

spark = spark_session()

df = (
    spark.readStream.format("kafka")
    .option("kafka.bootstrap.servers", os.environ["BOOTSTRAP_SERVERS"])
    .option("subscribe", os.environ["TOPIC"])
    .option("startingOffsets", "earliest")
    .load()
)
lines = df.select(df.value.cast("string").alias("line"))
words = lines.select(F.explode(F.split(lines.line, " ")).alias("word"))
counts = words.groupBy("word").count()

query = (
    counts.writeStream.outputMode("complete")
    .foreachBatch(write_totals)
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .trigger(processingTime=f"{os.environ['TRIGGER_SECONDS']} seconds")
    .start()
)

timeout = float(os.environ["IDLE_TIMEOUT_S"])
last = time.time()
last_batch = -1
while query.isActive:
    time.sleep(0.5)
    progress = query.lastProgress
    if progress and progress["batchId"] != last_batch:
        last_batch = progress["batchId"]
        if progress["numInputRows"] > 0:
            last = time.time()
    if time.time() - last > timeout and not query.status["isTriggerActive"]:
        query.stop()
spark.stop()
