"""produce-sequence with kafka-python, but bytes(i) is i zero bytes, not the digits of i."""
import os

from kafka import KafkaProducer

producer = KafkaProducer(bootstrap_servers=os.environ["BOOTSTRAP_SERVERS"].split(","))
for i in range(1, int(os.environ["N"]) + 1):
    producer.send(os.environ["TOPIC"], bytes(i))
producer.flush()
producer.close()
