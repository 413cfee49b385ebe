"""Word count over Kafka: the seminar's logic ported to Structured Streaming (first attempt)."""

import os

from pyspark.sql import functions as F
from seminar_spark import spark_session

spark = spark_session()
lines = (
    spark.readStream.format("kafka")
    .option("kafka.bootstrap.servers", os.environ["BOOTSTRAP_SERVERS"])
    .option("subscribe", os.environ["TOPIC"])
    .option("startingOffsets", "earliest")
    .load()
    .selectExpr("CAST(value AS STRING) AS line")
)
words = lines.select(F.explode(F.split("line", " ")).alias("word"))


def count_batch(batch, batch_id):
    # Counts each micro-batch on its own (like reduceByKey per batch) and prints it like pprint().
    out = os.path.join(os.environ["OUTPUT_DIR"], f"batch-{batch_id:06d}.tsv")
    rows = batch.groupBy("word").count().collect()
    with open(out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(f"{row['word']}\t{row['count']}\n")


query = (
    words.writeStream.foreachBatch(count_batch)
    .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
    .trigger(processingTime="1 second")
    .start()
)
query.awaitTermination(120)
