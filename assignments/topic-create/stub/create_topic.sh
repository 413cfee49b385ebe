#!/usr/bin/env bash
# Assignment 1 — topic-create (see README.md in this folder).
#
# Create the topic named in $TOPIC with 6 partitions and replication factor 2 on the cluster in
# $BOOTSTRAP_SERVERS. The seminar's command is a good start:
#   kafka-topics --zookeeper HOST:2181 --create --partitions 6 --replication-factor 2 --topic hob2019XX-topic
# In Kafka 4 there is no ZooKeeper: use --bootstrap-server "$BOOTSTRAP_SERVERS" and --topic "$TOPIC".
# Running this script twice must not break anything.
# Self-check: grader check .. -a topic-create
echo "topic-create: not implemented yet — edit create_topic.sh (see README.md)" >&2
exit 1
