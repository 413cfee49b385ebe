#!/bin/bash
seq 20 | kafka-console-producer --broker-list mipt-node05.atp-fivt.org:9092 --topic $TOPIC
