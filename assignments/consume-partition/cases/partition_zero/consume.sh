#!/usr/bin/env bash
kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" --partition 0 --from-beginning --timeout-ms 5000
