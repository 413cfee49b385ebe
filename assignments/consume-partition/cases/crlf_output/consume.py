"""kafka-python, printing Windows-style line ends ("\r\n"): allowed by the contract."""

import os
import sys

from kafka import KafkaConsumer, TopicPartition

tp = TopicPartition(os.environ["TOPIC"], int(os.environ["PARTITION"]))
servers = os.environ["BOOTSTRAP_SERVERS"].split(",")
consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
consumer.assign([tp])
consumer.seek_to_beginning(tp)
end = consumer.end_offsets([tp])[tp]
while consumer.position(tp) < end:
    for records in consumer.poll(timeout_ms=1000).values():
        for record in records:
            sys.stdout.write(record.value.decode() + "\r\n")
consumer.close()
