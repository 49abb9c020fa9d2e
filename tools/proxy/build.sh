#!/usr/bin/env bash
# Build the stand-ins for an ESP32 on a PC: MicroPython's unix port as a 32-bit
# program with single-precision floats (an ESP32's object sizes) and TLS
# (mbedtls), once with sunshift frozen in as the ESP32 image has it
# (tools/proxy/manifest.py) and once without (tools/proxy/manifest_plain.py:
# stock firmware, for copied .mpy files).
#
#   bash tools/proxy/build.sh MICROPYTHON_SOURCE [OUT_DIR]
#
# MICROPYTHON_SOURCE: a MicroPython source tree of a release tag with
# lib/micropython-lib and lib/mbedtls filled in (../shared/BOARD.md says how).
# Needs Debian's gcc-i686-linux-gnu, and libc6:i386 to run the result. OUT_DIR
# (default build/proxy) gets `micropython` (frozen) and `micropython-plain`,
# which tools/board_proxy.py runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$1" && pwd)"
out="${2:-$here/../../build/proxy}"
mkdir -p "$out"
make -C "$src/mpy-cross" -j2 >/dev/null
for kind in frozen plain; do
    manifest="$here/manifest.py"
    name=micropython
    if [ "$kind" = plain ]; then manifest="$here/manifest_plain.py"; name=micropython-plain; fi
    # The build compiles a frozen module again only when its source is newer than
    # the .mpy it made: after a checkout of older files (another tree, a bisect)
    # it would freeze the wrong code, so it compiles them all every time.
    rm -rf "$src/ports/unix/build-sunshift-$kind/frozen_mpy"
    make -C "$src/ports/unix" -j2 VARIANT=standard CROSS_COMPILE=i686-linux-gnu- \
        MICROPY_PY_FFI=0 MICROPY_PY_BTREE=0 \
        CFLAGS_EXTRA=-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT \
        FROZEN_MANIFEST="$manifest" BUILD="build-sunshift-$kind" PROG="$name" >/dev/null
    cp "$src/ports/unix/build-sunshift-$kind/$name" "$out/$name"
    "$out/$name" -c "import sys, tls; assert sys.maxsize == 2147483647 and str(1/3) == '0.33333334', 'not 32-bit single-float'"
    echo "built $out/$name ($kind)"
done
