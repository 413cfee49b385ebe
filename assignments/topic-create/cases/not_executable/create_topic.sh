#!/usr/bin/env bash
kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists --partitions 6 --replication-factor 2 --topic "$TOPIC"
