"""Stateful word count over Kafka with Structured Streaming (a student's solution)."""

import os
import time

from pyspark.sql import functions as F
from seminar_spark import spark_session, write_totals

spark = spark_session("my-wordcount")
idle_limit = float(os.environ["IDLE_TIMEOUT_S"])

text = (
    spark.readStream.format("kafka")
    .option("kafka.bootstrap.servers", os.environ["BOOTSTRAP_SERVERS"])
    .option("subscribe", os.environ["TOPIC"])
    .option("startingOffsets", "earliest")
    .load()
    .selectExpr("CAST(value AS STRING) AS line")
)
totals = (
    text.select(F.explode(F.split("line", r"[ \t]+")).alias("word"))
    .filter(F.length("word") > 0)
    .groupBy("word")
    .count()
)
query = (
    totals.writeStream.outputMode("complete")
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .trigger(processingTime=f"{os.environ['TRIGGER_SECONDS']} seconds")
    .foreachBatch(lambda df, batch_id: write_totals(df, batch_id))
    .start()
)

# Like the seminar's "finished" flag, but tolerant of pauses between bursts of data.
seen_batches = set()
last_data = time.time()
while query.isActive:
    time.sleep(0.5)
    for progress in query.recentProgress:
        if progress["batchId"] not in seen_batches:
            seen_batches.add(progress["batchId"])
            if progress["numInputRows"] > 0:
                last_data = time.time()
    if time.time() - last_data > idle_limit and not query.status["isTriggerActive"]:
        query.stop()
spark.stop()
