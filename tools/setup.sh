#!/usr/bin/env bash
# Install what sunshift's tools need, when it is missing:
#   bash tools/setup.sh          the virtualenv (.venv) with paho-mqtt, and Mosquitto  (for demo)
#   bash tools/setup.sh --test   ... and the test tools: pytest, hypothesis, ruff, Node.js,
#                                 the pinned MicroPython WebAssembly build            (for test.sh)
# Debian packages come from apt (as root, or through sudo); nothing else is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup.sh: need root (or sudo) to run: $*" >&2; return 1; fi
}
apt_install() {
  echo "setup.sh: installing $* from Debian packages" >&2
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv 2>/dev/null || { apt_install python3-venv && "$PYTHON" -m venv .venv; }
fi
# A real broker (Debian's mosquitto): the demo and the MQTT tests start their own.
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then apt_install mosquitto; fi

if [ "${1:-}" = "--test" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
  command -v mosquitto_passwd >/dev/null || apt_install mosquitto
  command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
  (cd tools && npm ci --no-audit --no-fund --loglevel=error)
else
  .venv/bin/python -m pip install -q --disable-pip-version-check "$(grep '^paho-mqtt' requirements-test.txt)"
fi
