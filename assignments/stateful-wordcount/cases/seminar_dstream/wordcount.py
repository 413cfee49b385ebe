# Word count over Kafka, as in the seminar (Spark Streaming + KafkaUtils), stateful, auto-stop.
# Wrong on purpose: the seminar's Python 2 code nearly verbatim (lambda (x, line): ...).
import os

from pyspark import SparkContext
from pyspark.streaming import StreamingContext
from pyspark.streaming.kafka import KafkaUtils

sc = SparkContext(master='local[2]')
ssc = StreamingContext(sc, batchDuration=int(os.environ['TRIGGER_SECONDS']))
ssc.checkpoint(os.environ['CHECKPOINT_DIR'])

dstream = KafkaUtils.createDirectStream(
    ssc, topics=[os.environ['TOPIC']],
    kafkaParams = {'metadata.broker.list': os.environ['BOOTSTRAP_SERVERS']}
)

def update_count(values, total):
    return sum(values) + (total or 0)

result = dstream \
        .flatMap(lambda (x, line): line.split(" ")) \
        .map(lambda word: (word, 1)) \
        .updateStateByKey(update_count)

def save(time, rdd):
    out = open(os.path.join(os.environ['OUTPUT_DIR'], 'batch.tsv'), 'w')
    for word, count in sorted(rdd.collect()):
        print >>out, u'%s\t%d' % (word, count)
    out.close()

result.foreachRDD(save)

finished = False

def set_ending_flag(rdd):
    global finished
    if rdd.isEmpty():
        finished = True

dstream.foreachRDD(set_ending_flag)

ssc.start()
while not finished:
    pass
ssc.stop()
