#!/usr/bin/env bash
# The project's test command (the README's, and what CI runs through .ci/run).
# It installs what the tests need when it is missing -- a virtualenv with the
# pinned Python packages, Node.js, Mosquitto, the pinned MicroPython
# WebAssembly build --
# then runs ruff, pytest, and the portable suites under MicroPython.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "test.sh: need root (or sudo) to run: $*" >&2; return 1; fi
}
apt_install() {
  echo "test.sh: installing $* from Debian packages" >&2
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv 2>/dev/null || { apt_install python3-venv && "$PYTHON" -m venv .venv; }
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt

command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
# A real broker for the MQTT tests (Debian's mosquitto; the tests start their own).
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then apt_install mosquitto; fi
command -v mosquitto_passwd >/dev/null || apt_install mosquitto
(cd tools && npm ci --no-audit --no-fund --loglevel=error)

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== pytest (CPython)"
.venv/bin/python -m pytest -q
echo "== portable suites (MicroPython)"
node tools/mprun.mjs tools/mptest.py
