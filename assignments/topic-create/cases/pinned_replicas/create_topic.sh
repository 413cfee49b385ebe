#!/usr/bin/env bash
# Places every partition on brokers 1 and 2 by hand.
kafka-topics --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists --topic "$TOPIC" \
    --replica-assignment 1:2,2:1,1:2,2:1,1:2,2:1
