"""Writes 1..N, then 'makes room' by killing the broker on the last bootstrap port (sabotage)."""

import os
import signal

import psutil
from kafka import KafkaProducer

servers = os.environ["BOOTSTRAP_SERVERS"].split(",")
producer = KafkaProducer(bootstrap_servers=servers, acks="all")
for i in range(1, int(os.environ["N"]) + 1):
    producer.send(os.environ["TOPIC"], str(i).encode())
producer.flush()
producer.close()

port = int(servers[-1].rsplit(":", 1)[1])
for conn in psutil.net_connections(kind="tcp"):
    if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
        os.kill(conn.pid, signal.SIGKILL)
        print(f"killed pid {conn.pid}")
