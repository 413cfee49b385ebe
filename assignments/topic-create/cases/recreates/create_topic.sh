#!/usr/bin/env bash
# "Clean start": deletes the topic if it is there, then creates it again.
kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --delete --if-exists --topic "$TOPIC"
for i in $(seq 1 30); do
  kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --partitions 6 --replication-factor 2 --topic "$TOPIC" 2>/dev/null && exit 0
  sleep 1
done
exit 1
