"""Stateful word count over Kafka (Structured Streaming)."""
# Wrong on purpose: a fresh temporary checkpoint on every start, so a restart forgets the totals
# and re-reads the topic from the earliest offset still kept.

import os
import tempfile
import time

from pyspark.sql import functions as F
from seminar_spark import spark_session, write_totals

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
    .option("checkpointLocation", tempfile.mkdtemp(prefix="wordcount-checkpoint-"))
    .trigger(processingTime=os.environ["TRIGGER_SECONDS"] + " seconds")
    .start()
)

idle = float(os.environ["IDLE_TIMEOUT_S"])
last_data = time.monotonic()
seen = -1
while query.isActive:
    time.sleep(0.5)
    for progress in query.recentProgress:
        if progress["batchId"] > seen:
            seen = progress["batchId"]
            if progress["numInputRows"] > 0:
                last_data = time.monotonic()
    if time.monotonic() - last_data > idle and not query.status["isTriggerActive"]:
        query.stop()
spark.stop()
