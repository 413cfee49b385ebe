#!/bin/bash
# Straight from the seminar, with the student's topic from $TOPIC.
kafka-topics --zookeeper mipt-node01.atp-fivt.org:2181 --create \
    --partitions 6 \
    --replication-factor 2 \
    --topic "$TOPIC"
