"""Stateful word count over Kafka (Structured Streaming)."""
# Wrong on purpose: the script ends right after start() -- the query only runs in the background,
# so Spark ends with the script before it has counted anything.

import os

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
print("word count started:", query.id)
