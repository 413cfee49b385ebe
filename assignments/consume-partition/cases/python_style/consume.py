"""consume-partition with kafka-python: assign one partition, read up to its end offset."""
import os

from kafka import KafkaConsumer, TopicPartition

tp = TopicPartition(os.environ["TOPIC"], int(os.environ["PARTITION"]))
consumer = KafkaConsumer(bootstrap_servers=os.environ["BOOTSTRAP_SERVERS"].split(","), enable_auto_commit=False)
consumer.assign([tp])
consumer.seek_to_beginning(tp)
end = consumer.end_offsets([tp])[tp]
while consumer.position(tp) < end:
    for records in consumer.poll(timeout_ms=1000).values():
        for record in records:
            print(record.value.decode())
consumer.close()
