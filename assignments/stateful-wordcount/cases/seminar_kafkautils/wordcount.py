# Word count over Kafka, as in the seminar (Spark Streaming + KafkaUtils), ported to Python 3.
# Wrong on purpose: pyspark.streaming.kafka was removed in Spark 3.0.
import os
import time

from pyspark import SparkContext
from pyspark.streaming import StreamingContext
from pyspark.streaming.kafka import KafkaUtils

sc = SparkContext(master="local[2]", appName="wordcount")
ssc = StreamingContext(sc, batchDuration=int(float(os.environ["TRIGGER_SECONDS"])))
ssc.checkpoint(os.environ["CHECKPOINT_DIR"])

dstream = KafkaUtils.createDirectStream(
    ssc, topics=[os.environ["TOPIC"]],
    kafkaParams={"metadata.broker.list": os.environ["BOOTSTRAP_SERVERS"]},
)


def update_count(values, total):
    return sum(values) + (total or 0)


result = (
    dstream.flatMap(lambda x_line: x_line[1].split())
    .map(lambda word: (word, 1))
    .updateStateByKey(update_count)
)


def save(batch_time, rdd):
    rows = sorted(rdd.collect())
    name = os.path.join(os.environ["OUTPUT_DIR"], "batch-%06d.tsv" % int(batch_time.timestamp()))
    with open(name + ".tmp", "w", encoding="utf-8") as out:
        for word, count in rows:
            out.write("%s\t%d\n" % (word, count))
    os.replace(name + ".tmp", name)


result.foreachRDD(save)

finished = False


def set_ending_flag(rdd):
    global finished
    if rdd.isEmpty():
        finished = True


dstream.foreachRDD(set_ending_flag)

ssc.start()
while not finished:
    time.sleep(0.5)
ssc.stop()
