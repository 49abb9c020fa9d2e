"""The board's own loop in the stand-in for an ESP32 (tools/proxy/build.sh).

    micropython -X heapsize=N tools/proxy/board_run.py ROOT TURNS [LIB]

Runs sunshift.board.supervisor on the board folder ROOT (config.json,
secrets.json, rules/) for TURNS turns of the loop, with Wi-Fi, the watchdog
and NTP faked and the sockets real; LIB is a folder holding the sunshift
package (copied .mpy files or source), else the frozen one is used.  What the
board prints goes out as "console: ..." lines; the last line is "report:" and
a JSON object.  tools/board_proxy.py writes ROOT, starts the simulators and
reads this.
"""

import gc
import json
import sys

ROOT = sys.argv[1]
TURNS = int(sys.argv[2])
LIB = sys.argv[3] if len(sys.argv) > 3 else None
sys.path[:] = ([LIB] if LIB else []) + [".frozen"]
gc.collect()
START = gc.mem_alloc()

from sunshift.board import hardware, supervisor  # noqa: E402


class Wlan:
    """A station that is always connected (the stand-in's network is the PC's)."""

    def active(self, on=None):
        return True

    def isconnected(self):
        return True

    def connect(self, ssid, password):
        pass

    def disconnect(self):
        pass


class Watchdog:
    def feed(self):
        pass


RESETS = []
HELD = []  # gc.mem_alloc() after each turn, collected


def console(text):
    for line in str(text).split("\n"):
        print("console: " + line)


def reset():
    RESETS.append(1)


class Board(supervisor.Supervisor):
    """The board's loop, with a look at the heap after every turn."""

    def _turned(self):
        supervisor.Supervisor._turned(self)
        gc.collect()
        HELD.append(gc.mem_alloc())


board = hardware.Board(ROOT, Wlan(), lambda ms: Watchdog(), lambda: None, reset, console=console)
loop = Board(board)
loop.run(stop=lambda: loop.turns >= TURNS or bool(RESETS))

gc.collect()
report = {"turns": loop.turns, "resets": len(RESETS), "held": HELD, "start": START, "devices": {}, "targets": {}, "failures": []}
runner = loop.runner
if runner is not None:
    values = runner.engine.signals.values
    for name in runner.adapters:
        report["devices"][name] = {"signals": len([k for k in values if k.startswith(name + ".")]), "trouble": runner.health[name].kind}
    for target in runner.rules.targets:
        report["targets"][target] = runner.engine.written.get(target, "(none)")
    report["failures"] = list(runner.dispatcher.failures)
gc.collect()
report["end"] = gc.mem_alloc()
# Streamed, not json.dumps: at the smallest heaps the whole line as one string
# was the allocation that failed, after the board's turns had all passed.
sys.stdout.write("report: ")
json.dump(report, sys.stdout)
sys.stdout.write("\n")
