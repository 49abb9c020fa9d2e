#!/usr/bin/env bash
# The project's test command (the README's, and what CI runs through .ci/run).
# It installs what the tests need when it is missing (tools/setup.sh --test: a
# virtualenv with the pinned Python packages, Node.js, Mosquitto, the pinned
# MicroPython WebAssembly build), then runs ruff, pytest, and the portable
# suites under MicroPython.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup.sh --test

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== pytest (CPython)"
.venv/bin/python -m pytest -q
echo "== portable suites (MicroPython)"
node tools/mprun.mjs tools/mptest.py
