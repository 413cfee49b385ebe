"""Stateful word count over Kafka (Structured Streaming) that stops when the data ends."""
# Wrong on purpose: the idle limit is hard-coded to 2 s ("fast enough on my laptop") instead of
# $IDLE_TIMEOUT_S, so the app stops during a pause between bursts.

import os
import time

from pyspark.sql import functions as F
from seminar_spark import spark_session, write_totals

IDLE_SECONDS = 2

spark = spark_session()

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

query = (
    counts.writeStream.outputMode("complete")
    .foreachBatch(write_totals)
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .trigger(processingTime=os.environ["TRIGGER_SECONDS"] + " seconds")
    .start()
)

last_data = time.time()
seen = -1
while query.isActive:
    time.sleep(0.5)
    for p in query.recentProgress:
        if p["batchId"] > seen:
            seen = p["batchId"]
            if p["numInputRows"] > 0:
                last_data = time.time()
    if time.time() - last_data > IDLE_SECONDS and not query.status["isTriggerActive"]:
        query.stop()
spark.stop()
