"""produce-sequence with kafka-python."""
import os

from kafka import KafkaProducer

producer = KafkaProducer(bootstrap_servers=os.environ["BOOTSTRAP_SERVERS"].split(","), acks="all")
for i in range(1, int(os.environ["N"]) + 1):
    producer.send(os.environ["TOPIC"], str(i).encode())
producer.flush()
producer.close()
