# These suites run sunshift's MicroPython backends over scripted sockets (MQTT on
# micropython-lib's own umqtt.simple, tests/vendor), which needs MicroPython:
# tools/mptest.py runs them under the real interpreter (node tools/mprun.mjs
# tools/mptest.py).  pytest leaves them out.
collect_ignore_glob = ["*.py"]
