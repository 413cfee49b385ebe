"""Reference solution of *stateful-wordcount*: the seminar's Kafka word count, modernised.

The 2019 seminar used Spark Streaming (DStreams) with ``pyspark.streaming.kafka.KafkaUtils``,
``updateStateByKey`` + ``ssc.checkpoint(...)`` for running totals, and a flag set by an empty
micro-batch to stop. ``pyspark.streaming.kafka`` no longer exists (removed in Spark 3), so this
is the same lesson with Structured Streaming:

* the Kafka source reads the topic (from the earliest offset: data may already be waiting);
* ``groupBy("word").count()`` in ``complete`` mode keeps running totals; Spark keeps them in a
  state store inside the checkpoint directory, so a restarted query continues exactly where it
  stopped (no record lost, none counted twice);
* ``foreachBatch`` writes all totals after every micro-batch;
* the driver watches the query's progress reports and stops the query once no new rows have
  arrived for ``IDLE_TIMEOUT_S`` seconds.

Environment: BOOTSTRAP_SERVERS, TOPIC, CHECKPOINT_DIR, OUTPUT_DIR, TRIGGER_SECONDS,
IDLE_TIMEOUT_S, SPARK_KAFKA_JARS. Run: ``python wordcount.py``.
"""

from __future__ import annotations

import os
import sys
import time

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery
from seminar_spark import spark_session, write_totals

POLL_SECONDS = 0.5  # how often the driver looks at the query's progress


def new_input_rows(query: StreamingQuery, last_batch_id: int) -> tuple[int, int]:
    """Rows read by the micro-batches finished since ``last_batch_id``, and the newest batch id.

    ``recentProgress`` holds the reports of the last (up to 100) micro-batches. Looking at all
    of them, not just ``lastProgress``, means no batch is missed between two looks.
    """
    rows = 0
    newest = last_batch_id
    for progress in query.recentProgress:
        batch_id = progress["batchId"]
        if batch_id > last_batch_id:
            rows += progress["numInputRows"]
            newest = max(newest, batch_id)
    return rows, newest


def main() -> int:
    topic = os.environ["TOPIC"]
    trigger = f"{round(float(os.environ.get('TRIGGER_SECONDS', '1')) * 1000)} milliseconds"
    idle_timeout = float(os.environ.get("IDLE_TIMEOUT_S", "10"))
    output_dir = os.environ["OUTPUT_DIR"]

    spark = spark_session("wordcount")

    # 1. Source: one row per Kafka record; the record's value holds one line of text (bytes).
    #    "earliest" is only used on the very first start; later the checkpoint knows the offsets.
    lines = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", os.environ["BOOTSTRAP_SERVERS"])
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .select(F.col("value").cast("string").alias("line"))
    )

    # 2. Words: split on runs of spaces/tabs. Splitting on a single " " (as the seminar did) gives
    #    empty strings for double or leading spaces -- the seminar's own output shows (u'', 1).
    #    Case and punctuation are kept: "Kafka" and "kafka," are different words.
    words = lines.select(F.explode(F.split("line", "[ \\t]+")).alias("word"))
    words = words.where(F.col("word") != "")

    # 3. State: running totals over all micro-batches (the modern updateStateByKey).
    counts = words.groupBy("word").count()

    # 4. Sink: after every micro-batch, write all totals so far.
    def write_batch(batch_df: DataFrame, batch_id: int) -> None:
        write_totals(batch_df, batch_id, output_dir)

    query = (
        counts.writeStream.outputMode("complete")
        .foreachBatch(write_batch)
        .option("checkpointLocation", os.environ["CHECKPOINT_DIR"])
        .trigger(processingTime=trigger)
        .queryName("wordcount")
        .start()
    )

    # 5. Stop by ourselves: the seminar's "finished" flag, without a busy loop. The idle clock
    #    starts now and is reset whenever a finished micro-batch has read new rows.
    last_input = time.monotonic()
    last_batch_id = -1
    while query.isActive:
        time.sleep(POLL_SECONDS)
        rows, last_batch_id = new_input_rows(query, last_batch_id)
        if rows > 0:
            last_input = time.monotonic()
        busy = query.status["isTriggerActive"]  # a micro-batch is running right now
        if time.monotonic() - last_input >= idle_timeout and not busy:
            print(f"no new data for {idle_timeout:g} s: stopping", file=sys.stderr)
            query.stop()

    failure = query.exception()  # set if the query died instead of being stopped by us
    spark.stop()
    if failure is not None:
        print(f"the streaming query failed: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
