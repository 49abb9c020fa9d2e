"""`demo` (``python3 main.py demo``): a whole simulated site on loopback, a
day in about a minute.

The Envoy, evcc and EMS-ESP simulators from tools/simulators/ run on
127.0.0.1 (with Mosquitto, when it and paho-mqtt are installed, evcc talks
MQTT; otherwise everything is plain HTTP), a built-in scenario's physics
(scenarios.Home) drives them, and the real Runner -- the same code as `run`
-- polls them over real sockets on a virtual clock and writes to them.  What
the devices were told is read back from the simulators, so the loads answer
only what really went over the wire.

It lives in tools/, beside the simulators, not in lib/sunshift: it needs
threads and sockets, and nothing of it belongs on a board.
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import time

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
if os.path.join(ROOT, "lib") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "lib"))
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

from simulators import broker, emsesp, envoy, evcc  # noqa: E402

from sunshift import port, units  # noqa: E402
from sunshift.errors import MAX_LINE, RuleError, SunshiftError, clip  # noqa: E402
from sunshift.host import scenarios  # noqa: E402
from sunshift.host.record import Recorder  # noqa: E402
from sunshift.host.summary import Summary, lines  # noqa: E402
from sunshift.lang import ruleset  # noqa: E402
from sunshift.site import config  # noqa: E402
from sunshift.site.catalog import Catalog  # noqa: E402
from sunshift.site.runner import Runner  # noqa: E402

DAY_SECONDS = 60  # the default speed plays a day in about a minute
STATUS_EVERY = 2 * 3600  # progress lines when the output is not a terminal
DAY_ONE = 1768348800  # 2026-01-14 00:00 UTC: the wall clock at t=0, for the tariffs' slots


class DemoError(Exception):
    """Something the user can fix (a busy port, a bad rule file); the message says what."""


def _mqtt_available():
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        return False
    return True


def _start(name, make, port_number):
    try:
        return make().start()
    except OSError as e:
        if port_number:
            raise DemoError("port %d is busy (the %s simulator wanted it: %s); choose another base port with --port, or leave it out" % (port_number, name, e))
        raise


class DemoLog(port.Log):
    """The Runner's log, shown with the virtual clock: device trouble and
    recovery always; everything else only with --verbose."""

    def __init__(self, show, clock, verbose, devices):
        port.Log.__init__(self, port.DEBUG if verbose else port.INFO)
        self.show = show
        self.clock = clock
        self.verbose = verbose
        self.devices = devices

    def log(self, level, source, message):
        if level < self.level:
            return
        if self.verbose or level >= port.WARN or (source in self.devices and message.startswith("answers again")) or source == "mqtt":
            # As port.Log does: a device's text escaped and bounded, whatever path it took.
            self.show(clip("%s  %-8s %s" % (units.format_clock(self.clock()), source, message), MAX_LINE))


class Screen:
    """Decision lines that scroll, and a progress line kept at the bottom on a terminal."""

    def __init__(self, out, tty):
        self.out = out
        self.tty = tty
        self.status = ""

    def line(self, text):
        if self.tty:
            self.out.write("\r\x1b[K" + text + "\n" + self.status)
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def progress(self, text):
        if self.tty:
            self.status = text
            self.out.write("\r\x1b[K" + text)
            self.out.flush()

    def done(self):
        if self.tty and self.status:
            self.out.write("\r\x1b[K")
            self.status = ""
            self.out.flush()


def _bar(fraction, width=24):
    filled = int(fraction * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def _kw(watts):
    return "%.1f kW" % (watts / 1000.0)


def _status(t, truth, settings):
    return "%s  sun %s  grid %s  car %s %s  tank %.0f °C" % (
        units.format_clock(t),
        _kw(truth["envoy.production"]),
        _kw(truth["envoy.net_consumption"]),
        settings["evcc.loadpoints.1.mode"],
        _kw(truth["evcc.loadpoints.1.chargePower"]),
        truth["emsesp.boiler.dhw.curtemp"],
    )


class Demo:
    """The simulated site, started by ``start`` and always stopped by ``stop``."""

    def __init__(self, scenario, rules, speed, step, base_port, mqtt, out, verbose=False):
        self.scenario = scenario
        self.rules = rules
        self.speed = speed  # virtual seconds per real second; None: as fast as it goes
        self.step = step
        self.base_port = base_port
        self.want_mqtt = mqtt
        self.out = out
        self.verbose = verbose
        self.broker = None
        self.sims = []
        self.runner = None
        self.folder = None
        self.now = 0
        self.screen = Screen(out, hasattr(out, "isatty") and out.isatty())

    def _port(self, k):
        return self.base_port + k if self.base_port else 0

    def start(self):
        """Start Mosquitto (if wanted and there), the simulators and the Runner."""
        use_mqtt = self.want_mqtt is not False and broker.find_mosquitto() is not None and _mqtt_available()
        if self.want_mqtt and not use_mqtt:
            raise DemoError("--mqtt needs Mosquitto and paho-mqtt (bash tools/setup.sh installs both)")
        address = None
        if use_mqtt:
            busy = self._port(3)
            if busy and not _port_free(busy):
                raise DemoError("port %d is busy (Mosquitto wanted it); choose another base port with --port, or leave --port out" % busy)
            self.broker = broker.Broker(busy or None).start()
            address = ("127.0.0.1", self.broker.port)
        self.envoy = _start("Envoy", lambda: envoy.EnvoySimulator("7.6.175_with_cts", token="demo-envoy-token", port=self._port(0)), self._port(0))
        self.sims.append(self.envoy)
        # Published by the loop after each step, not by a timer of their own.
        self.evcc = _start("evcc", lambda: evcc.EvccSimulator(port=self._port(1), broker=address, topic="evcc", interval=3600), self._port(1))
        self.sims.append(self.evcc)
        self.ems = _start("EMS-ESP", lambda: emsesp.EmsEspSimulator(port=self._port(2), token="demo-ems-token", interval=3600), self._port(2))
        self.sims.append(self.ems)
        self.transport = "mqtt" if use_mqtt else "rest"
        self._site(address)

    def _site(self, address):
        self.folder = tempfile.mkdtemp(prefix="sunshift-demo-")
        devices = {
            "envoy": {"type": "envoy", "url": self.envoy.url, "insecure_tls": True, "timeout": 2},
            "evcc": {"type": "evcc", "url": self.evcc.url, "transport": self.transport, "topic": "evcc", "timeout": 2},
            "emsesp": {"type": "emsesp", "url": self.ems.url, "timeout": 2},
        }
        site = {"rules": self.rules, "timezone": "UTC", "devices": devices}
        if address:
            site["mqtt"] = {"host": address[0], "port": address[1], "client_id": "sunshift-demo"}
        path = os.path.join(self.folder, "site.json")
        with open(path, "w") as f:
            json.dump(site, f)
        with open(os.path.join(self.folder, "secrets.json"), "w") as f:
            json.dump({"envoy": {"token": self.envoy.token}, "emsesp": {"token": "demo-ems-token"}}, f)
        self.log = DemoLog(self.screen.line, lambda: self.now, self.verbose, devices)
        site = config.load(path)
        self.runner = Runner(site, self.log, ruleset=ruleset.load(self.rules, Catalog(site.devices)))
        # The day's wall clock: midnight UTC of DAY_ONE plus virtual time, for evcc's
        # tariffs (their slots are times of day) and the Runner that places them.
        self.runner.wall = lambda: DAY_ONE + self.now
        self.evcc.clock = lambda: DAY_ONE + self.now
        # An MQTT feed keeps only what the rules read; the demo also waits on the
        # round marker evcc publishes (_turn), so the feed must keep that too.
        evcc = self.runner.adapters["evcc"]
        evcc.wanted = list(evcc.wanted) + ["evcc.updated"]

    def _settings(self, home):
        """What the devices hold now, as the physics sees it."""
        lp = self.evcc.loadpoint(1)
        state = self.evcc.state
        home.set("evcc.loadpoints.1.mode", lp["mode"])
        home.set("evcc.site.prioritySoc", state["prioritySoc"])
        home.set("evcc.site.batteryDischargeControl", state["batteryDischargeControl"])
        home.set("emsesp.boiler.dhw.seltemp", self.ems.value("boiler", "dhw", "seltemp"))

    def _show(self, truth, t):
        """Put the physics' figures into the simulators (evcc publishes them, marked ``t``)."""
        self.envoy.set_power(truth["envoy.production"], truth["envoy.total_consumption"])
        lp = self.evcc.loadpoint(1)
        with self.evcc.state_lock:
            lp["chargePower"] = float(truth["evcc.loadpoints.1.chargePower"])
            lp["connected"] = truth["evcc.loadpoints.1.connected"]
            lp["charging"] = truth["evcc.loadpoints.1.charging"]
            lp["vehicleSoc"] = truth["evcc.loadpoints.1.vehicleSoc"]
            self.evcc.state["battery"]["soc"] = truth["evcc.site.battery.soc"]
        self.evcc.set_site(
            pvPower=float(truth["envoy.production"]),
            gridPower=float(truth["envoy.net_consumption"]),
            homePower=float(truth["envoy.total_consumption"] - truth["evcc.loadpoints.1.chargePower"]),
        )
        self.ems.set_value("boiler", "dhw", "curtemp", truth["emsesp.boiler.dhw.curtemp"])
        self.ems.set_value("boiler", "", "hpcurrpower", truth["emsesp.boiler.hpcurrpower"])
        self.evcc.publish_state(changed_only=True, updated=t)

    def _turn(self, t):
        """One loop turn at virtual time ``t``: every device polled, evcc's
        MQTT round for ``t`` waited for, the rules ticked and the writes sent."""
        runner = self.runner
        for name in runner.next_poll:
            runner.next_poll[name] = None  # the demo polls at every step
        runner.receive(t)
        if self.transport == "mqtt":
            # Virtual time must not run ahead of the wire: a round that has not
            # arrived yet would look, at 1440 times real time, minutes late.
            feed = runner.adapters["evcc"].feed
            # The first round also waits for the connection and the subscription.
            deadline = time.monotonic() + (10 if t == 0 else 2)
            while feed.values.get("evcc.updated") != t and time.monotonic() < deadline:
                time.sleep(0.0005)
                runner.receive(t)
        return runner.decide(t, t % scenarios.DAY)

    def run(self):
        """Play the day; returns (summary figures, recorded Day, number of decisions)."""
        home = scenarios.Home(self.scenario)
        engine = self.runner.engine
        summary = Summary(max_gap=self.runner.site.stale_after)
        recorder = Recorder(self.runner.rules, engine, 0, scenarios.PICTURE)
        held = dict(scenarios.DEFAULTS)
        began = time.monotonic()
        decisions = 0
        next_status = 0
        t = 0
        while t < scenarios.DAY:
            self.now = t
            self._settings(home)
            truth = home.step(t, self.step)
            if home.envoy_answers(t):
                if self.envoy.fault:
                    self.envoy.heal()
            elif not self.envoy.fault:
                self.envoy.fail("http503")  # a busy gateway: it answers, but not with data
            self._show(truth, t)
            rows = [(name, truth[name]) for name in scenarios.SIGNALS]
            if self.scenario.tariff is not None:
                # evcc learns the day's prices as the scenario publishes them.
                for name, fc in self.scenario.tariff.published(t, self.step):
                    slots = [(DAY_ONE + fc.starts[k], DAY_ONE + fc.ends[k], fc.values[k]) for k in range(len(fc))]
                    self.evcc.set_tariff(name.rsplit(".", 1)[1], slots)
                    rows.append((name, fc))
            summary.sample(t, rows)
            recorder.sample(t, rows)
            changes = self._turn(t)
            for change in changes:
                decisions += 1
                summary.change(change)
                recorder.change(change)
                old = held.get(change.target)
                held[change.target] = change.value
                shift = "= %s" % _shown(old) if old == change.value else "%s -> %s" % (_shown(old), _shown(change.value))
                self.screen.line("%s  %-33s %-13s %s: %s" % (units.format_clock(t), change.target, shift, change.rule, change.reason))
            recorder.tick(t)
            status = _status(t, truth, home.settings)
            if t % 60 == 0:  # the clock shows minutes: redraw when it moves
                self.screen.progress("%s %s" % (_bar(t / float(scenarios.DAY)), status))
            if not self.screen.tty and t >= next_status:
                self.screen.line(status.replace("  ", "  ... ", 1))
                next_status += STATUS_EVERY
            t += self.step
            if self.speed:
                ahead = began + t / float(self.speed) - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        self.screen.done()
        end = t - self.step
        return summary.figures(end), recorder.finish(end), decisions

    def stop(self):
        """Stop the Runner, the simulators and the broker, and remove the temporary folder."""
        self.screen.done()
        if self.runner is not None:
            self.runner.close()
        for sim in self.sims:
            try:
                sim.stop()
            except Exception as e:  # one that will not stop must not keep the others running
                self.out.write("could not stop the %s simulator: %s\n" % (sim.name, e))
        if self.broker is not None:
            self.broker.stop()
            shutil.rmtree(self.broker.folder, ignore_errors=True)
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def _shown(value):
    if value is None:
        return "(unset)"
    return units.format_value(value).strip('"')


def _port_free(number):
    import socket

    s = socket.socket()
    try:
        s.bind(("127.0.0.1", number))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(scenario_name, rules, speed, step, base_port, mqtt, plot_path, out, err, verbose=False):
    """Run the demo; returns the exit code (130 after Ctrl-C)."""
    try:
        scenario = scenarios.get(scenario_name)
        ruleset.load(rules, Catalog())  # a bad rule file stops here, before anything starts
    except ValueError as e:
        err.write("sunshift demo: %s\n" % e)
        return 2
    except RuleError as e:
        for p in e.problems:
            err.write(str(p) + "\n")
        return 1
    previous = signal.signal(signal.SIGTERM, _terminate)  # `kill` cleans up as Ctrl-C does
    demo = Demo(scenario, rules, speed, step, base_port, mqtt, out, verbose)
    try:
        demo.start()
        out.write("sunshift demo: %s\n" % scenarios.describe(scenario))
        out.write(
            "  Envoy %s, evcc %s (%s), EMS-ESP %s%s\n"
            % (
                demo.envoy.url,
                demo.evcc.url,
                "MQTT via Mosquitto on port %d" % demo.broker.port if demo.broker else "REST",
                demo.ems.url,
                "" if demo.broker else "  (no Mosquitto or paho-mqtt here: HTTP only)",
            )
        )
        pace = "a day in about %d s" % (scenarios.DAY / speed) if speed else "as fast as it goes"
        out.write("  rules: %s; %s; Ctrl-C stops\n\n" % (" ".join(os.path.relpath(r) for r in rules), pace))
        out.flush()
        figures, day, decisions = demo.run()
    except KeyboardInterrupt:
        demo.screen.done()
        err.write("\nsunshift demo: stopped; simulators and broker shut down\n")
        return 130
    except (DemoError, SunshiftError) as e:
        err.write("sunshift demo: %s\n" % e)
        return 1
    finally:
        demo.stop()
        signal.signal(signal.SIGTERM, previous)
    out.write("\nthe day in figures (%d decisions):\n" % decisions)
    for line in lines(figures):
        out.write(line + "\n")
    if plot_path:
        from sunshift.host import plot

        plot.write(day, plot_path, "sunshift demo: %s (rules: %s)" % (scenario.title, " ".join(os.path.relpath(r) for r in rules)))
        out.write("\npicture of the day: %s (open it in a browser)\n" % plot_path)
    return 0
