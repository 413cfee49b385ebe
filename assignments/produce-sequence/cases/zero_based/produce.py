"""Off by one: writes 0..N-1."""
import os

from kafka import KafkaProducer

producer = KafkaProducer(bootstrap_servers=os.environ["BOOTSTRAP_SERVERS"].split(","))
for i in range(int(os.environ["N"])):
    producer.send(os.environ["TOPIC"], str(i).encode())
producer.flush()
