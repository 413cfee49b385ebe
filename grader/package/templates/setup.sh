#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (with network access).
# It installs Python, Java 17 and the grader wheel shipped next to it (specs and checks, no reference
# solutions), fetches the pinned Kafka and Spark-Kafka jars, and creates the unprivileged user that
# the grader and the student's code run as. Choose Gradescope's Ubuntu 24.04 base image.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RUN_AS="@RUN_AS@"
PREFIX=/opt/grader

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends python3 python3-venv openjdk-17-jre-headless procps
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "the grader needs Python 3.11+: choose the Ubuntu 24.04 base image")'

python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --upgrade pip
"$PREFIX/venv/bin/pip" install -q "$SOURCE/@WHEEL@"

id "$RUN_AS" >/dev/null 2>&1 || useradd --system --create-home --shell /usr/sbin/nologin "$RUN_AS"
mkdir -p "$PREFIX/cache"
GRADER_CACHE_DIR="$PREFIX/cache" "$PREFIX/venv/bin/grader" setup
# The grader writes its class-data archive and locks into the cache while grading.
chown -R "$RUN_AS" "$PREFIX/cache"
chmod -R a+rX "$PREFIX"
