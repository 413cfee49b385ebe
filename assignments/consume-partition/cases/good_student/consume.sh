#!/bin/bash
# The seminar's command (with --new-consumer, which Kafka 4 no longer needs), bounded by a timeout.
kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" --new-consumer \
    --from-beginning --partition "$PARTITION" --timeout-ms 4000
