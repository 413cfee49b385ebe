"""Reads the partition correctly (kafka-python), then "cleans up" by deleting the topic."""

import os

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

servers = os.environ["BOOTSTRAP_SERVERS"].split(",")
tp = TopicPartition(os.environ["TOPIC"], int(os.environ["PARTITION"]))
consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
consumer.assign([tp])
consumer.seek_to_beginning(tp)
end = consumer.end_offsets([tp])[tp]
while consumer.position(tp) < end:
    for records in consumer.poll(timeout_ms=1000).values():
        for record in records:
            print(record.value.decode())
consumer.close()

admin = KafkaAdminClient(bootstrap_servers=servers)
admin.delete_topics([os.environ["TOPIC"]])
admin.close()
