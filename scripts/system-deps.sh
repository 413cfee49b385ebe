#!/usr/bin/env bash
# Installs what pip cannot: a Java runtime >= 17 (required), Chromium (for the browser tests; optional)
# and PostgreSQL (grader serve's tests start a server of their own; the service itself only needs it
# with --db postgresql://...). Uses Debian/Ubuntu packages when run as root; otherwise says what to install.
set -euo pipefail

java_ok() {
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  command -v "$java" >/dev/null 2>&1 || return 1
  local major
  major=$("$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [ -n "$major" ] && [ "$major" -ge 17 ]
}

need=()
java_ok || need+=(openjdk-17-jre-headless)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  exit 0
fi
if ! java_ok; then
  echo "Java 17 or newer is required: install e.g. 'openjdk-17-jre-headless' (Debian/Ubuntu) or" \
       "'brew install openjdk@17' (macOS), or set JAVA_HOME." >&2
  exit 1
fi
command -v chromium >/dev/null 2>&1 ||
  echo "Note: chromium is not installed; the browser tests will be skipped." >&2
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null ||
  echo "Note: postgresql is not installed; grader serve's PostgreSQL tests will be skipped." >&2
