#!/usr/bin/env bash
# Copied from the seminar: always 20.
seq 20 | kafka-console-producer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC"
