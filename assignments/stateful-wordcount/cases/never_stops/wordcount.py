"""Stateful word count (Structured Streaming + Kafka)."""
# Wrong on purpose: like the seminar's first version, it waits for Ctrl^C forever.

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
words = lines.select(F.explode(F.split("line", "[ \t]+")).alias("word")).filter("word <> ''")
counts = words.groupBy("word").count()

query = (
    counts.writeStream.outputMode("complete")
    .foreachBatch(lambda df, batch_id: write_totals(df, batch_id))
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .trigger(processingTime=os.environ["TRIGGER_SECONDS"] + " seconds")
    .start()
)
query.awaitTermination()
