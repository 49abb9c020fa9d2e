#!/usr/bin/env bash
# The newcomer's command: install what the demo needs (a virtualenv with
# paho-mqtt, and Mosquitto), then play a simulated day in about a minute.
# Options go to the demo: bash tools/demo.sh --scenario broken_clouds --speed 720
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
exec .venv/bin/python main.py demo "$@"
