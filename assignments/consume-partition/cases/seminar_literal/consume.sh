#!/bin/bash
kafka-console-consumer --bootstrap-server mipt-node06.atp-fivt.org:9092 --topic $TOPIC --new-consumer --from-beginning --partition $PARTITION --timeout-ms 5000
