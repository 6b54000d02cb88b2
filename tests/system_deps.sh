#!/usr/bin/env bash
# What `make test` needs beyond Python: Chromium for the browser tests, and Java for the Nu Html
# Checker. Missing ones are installed where this can (root with apt-get); elsewhere it stops with
# one line saying what to install (so does SYSTEM_DEPS_INSTALL=no). Run only the tests that need neither with
# `make test PYTEST_ARGS='-m "not browser"'` (this check is then skipped).
set -euo pipefail
PACKAGES="chromium fonts-dejavu-core default-jre-headless"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"  # another path only to test this script
missing() { [ -x "$CHROMIUM" ] || return 0; command -v java >/dev/null 2>&1 || return 0; return 1; }
missing || exit 0
if [ "$(id -u)" = 0 ] && [ "${SYSTEM_DEPS_INSTALL:-yes}" = yes ] && command -v apt-get >/dev/null 2>&1; then
  echo "make test: installing $PACKAGES (the browser tests and the HTML checker need them)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq $PACKAGES >/dev/null
  missing || exit 0
fi
echo "make test: the browser tests need Chromium at /usr/bin/chromium and Java (apt-get install -y $PACKAGES, as root); or run the others only: make test PYTEST_ARGS='-m \"not browser\"'" >&2
exit 1
