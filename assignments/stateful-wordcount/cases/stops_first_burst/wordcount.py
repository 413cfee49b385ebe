"""Stateful word count over Kafka that ends once the available data is processed."""
# Wrong on purpose: availableNow processes what is in the topic at start and then ends, so data
# that arrives later (the next burst) is never counted.

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
    .trigger(availableNow=True)  # "stop when the data ends"
    .start()
)
query.awaitTermination()
spark.stop()
