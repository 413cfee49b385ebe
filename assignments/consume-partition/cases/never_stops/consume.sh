#!/usr/bin/env bash
kafka-console-consumer --bootstrap-server "$BOOTSTRAP_SERVERS" --topic "$TOPIC" --partition "$PARTITION" --from-beginning
