#!/usr/bin/env bash
# A debugging loop left in: prints forever.
yes "debug: still reading $TOPIC"
