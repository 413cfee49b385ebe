"""Stateful word count over Kafka (Structured Streaming)."""
# Wrong on purpose: a typo in the helper's name (write_total instead of write_totals) -- the app
# crashes with an ImportError before Spark even starts.

import os
import time

from pyspark.sql import functions as F
from seminar_spark import spark_session, write_total

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
    .foreachBatch(write_total)
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .trigger(processingTime=os.environ["TRIGGER_SECONDS"] + " seconds")
    .start()
)

idle = float(os.environ["IDLE_TIMEOUT_S"])
last = time.time()
while query.isActive:
    time.sleep(0.5)
    progress = query.lastProgress
    if progress and progress["numInputRows"] > 0:
        last = time.time()
    if time.time() - last > idle and not query.status["isTriggerActive"]:
        query.stop()
spark.stop()
