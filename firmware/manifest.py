# ruff: noqa: F821  (include, require and package are given by MicroPython's build)
# A MicroPython ESP32 image with sunshift frozen in, with the micropython-lib
# packages its MicroPython backends import. Build it from MicroPython's
# ports/esp32 (firmware/README.md has every step):
#
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/sunshift/firmware/manifest.py
#
# MicroPython's build executes this file; relative paths are relative to it.

# The port's own manifest: the modules every ESP32 image has (_boot.py,
# inisetup.py, asyncio, the networking bundle...).
include("$(PORT_DIR)/boards/manifest.py")

# What mqtt_micropython and http_micropython import. MicroPython's ESP32
# manifest already pulls both in (umqtt.simple, and requests through
# bundle-networking); naming them keeps this image right if that changes.
require("umqtt.simple")
require("requests")

# Every module of lib/sunshift that runs on a board: all but the host-only ones
# of tools/board_files.py (the *_cpython backends, cli, plot, record, runs,
# scenarios, sim, summary, trace), whatever the site: frozen, they sit in flash,
# not in the heap, so the image runs any config (a copied deploy holds only what
# its config's devices need). tests/host/test_deploy.py checks that this list
# and `deploy.py --all-modules` stay the same. opt=0 keeps line numbers, so a
# traceback in the crash log names its line.
package(
    "sunshift",
    files=[
        "__init__.py",
        "app.py",
        "backoff.py",
        "config.py",
        "device.py",
        "dispatch.py",
        "emsesp.py",
        "emsesp_mqtt.py",
        "engine.py",
        "enode.py",
        "envoy.py",
        "errors.py",
        "evcc.py",
        "evcc_mqtt.py",
        "expr.py",
        "feed.py",
        "http_micropython.py",
        "jsonpick.py",
        "lexer.py",
        "mqtt_link.py",
        "mqtt_micropython.py",
        "mqtt_site.py",
        "nodes.py",
        "parser.py",
        "port.py",
        "series.py",
        "signals.py",
        "units.py",
        "webapi.py",
    ],
    base_path="../lib",
    opt=0,
)
