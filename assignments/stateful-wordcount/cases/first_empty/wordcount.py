"""Stateful word count over Kafka (Structured Streaming) with the seminar's "finished" flag."""
# Wrong on purpose: like the seminar's flag set by an empty micro-batch, it stops as soon as the
# query reports that no new data is available -- the first pause between bursts ends the app.

import os
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
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .trigger(processingTime=os.environ["TRIGGER_SECONDS"] + " seconds")
    .start()
)

finished = False
while query.isActive and not finished:
    time.sleep(0.5)
    status = query.status
    # an empty trigger after at least one batch with data: the stream is "finished"
    if query.lastProgress is not None and not status["isDataAvailable"] and not status["isTriggerActive"]:
        finished = True
query.stop()
spark.stop()
