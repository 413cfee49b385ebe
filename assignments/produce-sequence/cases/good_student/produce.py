"""Write 1..N into my topic, in order, waiting for every acknowledgement."""
import os

from kafka import KafkaProducer

producer = KafkaProducer(bootstrap_servers=os.environ["BOOTSTRAP_SERVERS"].split(","), acks="all")
for number in range(1, int(os.environ["N"]) + 1):
    producer.send(os.environ["TOPIC"], str(number).encode("utf-8"))
producer.flush()
producer.close()
