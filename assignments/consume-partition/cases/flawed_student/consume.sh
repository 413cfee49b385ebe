#!/bin/bash
echo "reading my partition"
kafka-console-consumer --bootstrap-server mipt-node06.atp-fivt.org:9092 --topic $TOPIC --from-beginning --partition $PARTITION --timeout-ms 4000
