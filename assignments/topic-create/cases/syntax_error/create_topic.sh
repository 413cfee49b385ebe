#!/usr/bin/env bash
if [ -n "$TOPIC" ]; then
  kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --partitions 6 --replication-factor 2 --topic "$TOPIC"
