#!/bin/bash
# Copied from the seminar slides.
kafka-topics --zookeeper mipt-node01.atp-fivt.org:2181 --create --partitions 5 --replication-factor 2 --topic $TOPIC
