#!/usr/bin/env bash
# Build the stand-in for an ESP32 on a PC: MicroPython's unix port as a 32-bit
# program with single-precision floats (an ESP32's object sizes), sunshift
# frozen in as the ESP32 image has it (tools/proxy/manifest.py), without TLS.
#
#   bash tools/proxy/build.sh MICROPYTHON_SOURCE [OUT]
#
# MICROPYTHON_SOURCE: a MicroPython source tree (a release tag, with
# lib/micropython-lib filled in: ../shared/BOARD.md says how). Needs Debian's
# gcc-i686-linux-gnu and libc6:i386 to run the result. OUT (default
# build/proxy/micropython) is the program; tools/bench_frozen.py runs in it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$1" && pwd)"
out="${2:-$here/../../build/proxy/micropython}"
make -C "$src/mpy-cross" -j2 >/dev/null
make -C "$src/ports/unix" -j2 VARIANT=standard CROSS_COMPILE=i686-linux-gnu- \
    MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 MICROPY_PY_SSL=0 MICROPY_SSL_MBEDTLS=0 \
    CFLAGS_EXTRA=-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT \
    FROZEN_MANIFEST="$here/manifest.py" BUILD=build-sunshift-32f PROG=micropython-sunshift >/dev/null
mkdir -p "$(dirname "$out")"
cp "$src/ports/unix/build-sunshift-32f/micropython-sunshift" "$out"
"$out" -c "import sys; assert sys.maxsize == 2147483647 and str(1/3) == '0.33333334', 'not 32-bit single-float'"
echo "built $out"
