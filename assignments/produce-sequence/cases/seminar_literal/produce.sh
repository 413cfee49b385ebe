#!/bin/bash
seq $N | kafka-console-producer --broker-list mipt-node05.atp-fivt.org:9092 --topic $TOPIC
