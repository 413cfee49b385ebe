#!/bin/bash
# The seminar's command (with --new-consumer, which Kafka 4 no longer needs), bounded by a generous
# idle timeout (a short one can end before the first records arrive on a busy machine).
kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" --new-consumer \
    --from-beginning --partition "$PARTITION" --timeout-ms 10000
