"""Word count over Kafka with Structured Streaming (my solution)."""
# Wrong on purpose: counts every micro-batch on its own (no state across batches).

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
words = lines.select(F.explode(F.split("line", r"\s+")).alias("word")).where("word != ''")


def count_batch(batch_df, batch_id):
    # count the words of this batch and save them
    counts = batch_df.groupBy("word").count()
    write_totals(counts, batch_id)


query = (
    words.writeStream.outputMode("append")
    .foreachBatch(count_batch)
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .trigger(processingTime=os.environ["TRIGGER_SECONDS"] + " seconds")
    .start()
)

idle = float(os.environ["IDLE_TIMEOUT_S"])
last_data = time.time()
seen = -1
while query.isActive:
    time.sleep(1)
    for p in query.recentProgress:
        if p["batchId"] > seen:
            seen = p["batchId"]
            if p["numInputRows"] > 0:
                last_data = time.time()
    if time.time() - last_data > idle and not query.status["isTriggerActive"]:
        query.stop()
spark.stop()
