#!/usr/bin/env bash
# Makes the docker sandbox usable on this machine: Debian's docker.io and mmdebstrap when missing
# (as root on Debian/Ubuntu), a running dockerd, and the grading image (built from Debian packages
# and the grader's caches; re-used when its inputs are unchanged).
# Never fails the caller: where no engine can be had it says why, and the docker tests are skipped
# with that reason (GRADER_REQUIRE_DOCKER=1 turns this into a failure, for CI that must test docker).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}

give_up() {
  echo "docker sandbox unavailable: $1" >&2
  [ "${GRADER_REQUIRE_DOCKER:-0}" = 1 ] && exit 1
  exit 0
}

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing system packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || give_up "could not install ${need[*]}"
  else
    give_up "install ${need[*]} (Debian/Ubuntu: apt-get install ${need[*]})"
  fi
fi

if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || give_up "no docker engine is running and only root can start dockerd here"
  echo "Starting dockerd (log: /tmp/grader-dockerd.log)"
  nohup dockerd >/tmp/grader-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || give_up "dockerd did not start: $(tail -n 5 /tmp/grader-dockerd.log)"
fi

"$BIN/grader" image build || give_up "'grader image build' failed (see above)"
