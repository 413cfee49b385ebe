#!/usr/bin/env bash
# "To be sure it arrived", sends everything twice.
for attempt in 1 2; do
  seq "$N" | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"
done
