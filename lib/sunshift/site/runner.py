"""The site at work: devices polled, MQTT drained, the engine ticked, writes dispatched.

``Runner.step(now, tod)`` is one turn of the loop and does no waiting, so
tests drive it step by step; ``Runner.run`` is the loop itself, with the
clocks and the pauses, for the command line and the board alike.
Nothing a device does escapes a step: every failure becomes a logged
DeviceError (once per episode), the device's signals go stale, the rest of the
site carries on, and a device that answers again gets its settings re-sent.
Running out of memory is no exception: a poll that runs out makes its device
stale (so its rules take their safe branch), a write that runs out is tried
again later, and anything else that runs out is logged once, with where it
happened and the heap left, and the next turn goes on.
"""

from .. import port
from ..core import engine as engine_module
from ..core.dispatch import Dispatcher
from ..devices import kinds
from ..errors import DeviceError, SunshiftError

# Longest pause between loop turns: MQTT messages are seen this soon.
TURN_MS = 50
# A device that times out stalls the loop for its whole timeout, so its polls
# back off (doubling, up to this many seconds) until it answers again.
TIMEOUT_BACKOFF_MAX = 30


def check_names(rs, devices):
    """Problems with names the rules use that the site does not have: (errors, warnings)."""
    errors = []
    warnings = []
    for target in rs.targets:
        device = target.split(".")[0]
        if device not in devices:
            errors.append("the rules set %s, but the site has no device %r (devices: %s)" % (target, device, ", ".join(sorted(devices))))
            continue
        spec = devices[device]
        problem = kinds.adapter_class(spec["type"], "rest", device).target_problem(target, spec)
        if problem:
            errors.append(problem)
    for signal in rs.signals():
        device = signal.split(".")[0]
        if device not in devices:
            warnings.append("the rules read %s, but the site has no device %r: rules that need it stay in their safe branch" % (signal, device))
    return errors, warnings


class Health:
    """Logs a device's trouble once per episode, and its recovery once.

    An episode is a run of failures of the same kind: the Envoy timing out on
    every poll for ten minutes is one line; a timeout that turns into a 401 is
    a second one.
    """

    def __init__(self, log, device):
        self.log = log
        self.device = device
        self.kind = None
        self.failures = 0

    def failed(self, error):
        """Note a failure (a DeviceError); logs it when a new episode starts."""
        self.failures += 1
        kind = getattr(error, "kind", "error")
        if kind != self.kind:
            self.kind = kind
            self.log.warn(self.device, "%s; its signals will go stale" % error)

    def ok(self):
        """Note a success; logs the recovery if there was an episode."""
        if self.kind is not None:
            self.log.info(self.device, "answers again after %d failed attempt%s" % (self.failures, "" if self.failures == 1 else "s"))
        self.kind = None
        self.failures = 0


class Runner:
    """A configured site: adapters, MQTT, engine and dispatcher.

    ``sessions`` ({device name: HTTP session}) and ``mqtt_client`` replace the
    transport backends, for tests on interpreters without sockets; ``ticks_ms``
    replaces port.ticks_ms for the poll schedule (a test's fake clock).
    """

    def __init__(self, site, log, dry_run=False, ruleset=None, mqtt_client=None, sessions=None, ticks_ms=None):
        self.site = site
        self.ticks_ms = ticks_ms or port.ticks_ms
        self.log = log
        if ruleset is None:
            # Rule files, as `run` reads them on a PC; a board passes the rule set
            # it loaded compiled, and never carries the parser (docs/architecture.md).
            from ..lang.ruleset import load

            ruleset = load(site.rules)
        self.rules = ruleset
        errors, warnings = check_names(self.rules, site.devices)
        if errors:
            raise SunshiftError("; ".join(errors))
        for text in warnings:
            log.warn("site", text)
        self.engine = engine_module.Engine(self.rules, site.stale_after, site.max_ages())
        self.wanted = self.rules.signals()
        self.adapters = {}
        # The MQTT side (site/mqtt) is loaded only for a site with a device over
        # MQTT: a board deployed for a REST-only site does not have it.
        self.mqtt = None
        self.mqtt_site = None
        if mqtt_client is not None or (site.mqtt and any(d.get("transport") == "mqtt" for d in site.devices.values())):
            from .mqtt import SiteMqtt

            self.mqtt_site = SiteMqtt(site.mqtt, log, self.adapters, self.reassert, self.feed, mqtt_client)
            self.mqtt = self.mqtt_site.client
        self.health = {}
        self.next_poll = {}
        self.backoff = {}
        # What the turn is doing, for a message when memory runs out: a phase
        # ("the engine") or the name of the device being read.
        self.phase = ""
        self.short_of_memory = None  # the phase of the last MemoryError, until a turn goes through
        for name, spec in site.devices.items():
            # A board gets only the adapters its config named when it was deployed
            # (tools/deploy.py); a device added later raises ModuleMissing here.
            self.adapters[name] = kinds.build(name, spec, self.mqtt, (sessions or {}).get(name), log)
            self.health[name] = Health(log, name)
            self.next_poll[name] = None
            self.backoff[name] = 0
        # Adapters with work of their own between polls, asked every turn.
        self.workers = [adapter for adapter in self.adapters.values() if adapter.works]
        for adapter in self.adapters.values():
            adapter.wanted = self.wanted  # an adapter may ask its device for fresh data only for what rules read
        self.dispatcher = Dispatcher(self.engine, self.write, log, dry_run, describe=self.describe)

    def write(self, target, value):
        """Send one target value to its device (the dispatcher's writer)."""
        adapter = self.adapters.get(target.split(".")[0])
        if adapter is None:
            raise DeviceError("site", target, "no such device", "config")
        try:
            adapter.write(target, value)
        except (SunshiftError, OSError):
            raise
        except MemoryError:
            raise DeviceError(adapter.name, target, "out of memory while sending it (%s bytes free after collecting)" % port.collect(), "memory")
        except Exception as e:
            raise DeviceError(adapter.name, target, "internal error %s: %s (please report it)" % (e.__class__.__name__, e), "internal")

    def describe(self, target, value):
        """What writing ``target`` would send, for dry-run, when its adapter can say."""
        adapter = self.adapters.get(target.split(".")[0])
        if adapter is None:
            return None
        return adapter.describe(target, value)

    def reassert(self, name):
        """Have the engine send the device ``name`` its settings again (it may have lost them)."""
        self.engine.reassert(name + ".")

    def feed(self, signals, now, age_of=None):
        """Give the engine the samples it needs from a device's reading.

        ``age_of(signal)`` (an adapter whose data has its own time, like Enode's
        lastSeen) says how old each value is: 0 is now, None is stale at once.
        """
        for name in self.wanted:
            if name in signals:
                if age_of is None:
                    self.engine.update(name, signals[name], now)
                    continue
                age = age_of(name)
                if age is None:
                    self.engine.signals.drop(name)
                else:
                    self.engine.update(name, signals[name], now - age)

    def step(self, now, tod, now_ms=None):
        """One turn: MQTT, due polls, the engine, the writes.  Returns the changes.

        A MemoryError is logged once (with where and the heap left) and the
        turn ends there; the next one goes on."""
        try:
            self.receive(now, now_ms)
            self.phase = "the engine"
            changes = self.dispatcher.step(now, tod)
        except MemoryError:
            self.out_of_memory()
            return []
        if self.short_of_memory is not None:
            self.short_of_memory = None
            self.log.info("memory", "a turn went through again")
        return changes

    def out_of_memory(self):
        """Log once per episode that memory ran out in the current phase."""
        if self.short_of_memory != self.phase:
            self.short_of_memory = self.phase
            where = "the poll of " + self.phase if self.phase in self.adapters else self.phase
            self.log.warn("memory", "out of memory in %s (%s bytes free after collecting); the next turn goes on" % (where, port.collect()))

    def receive(self, now, now_ms=None):
        """The first half of a turn: MQTT messages and due polls, into the engine."""
        now_ms = self.ticks_ms() if now_ms is None else now_ms
        if self.mqtt_site is not None:
            self.phase = "MQTT"
            self.mqtt_site.receive()
        for name, adapter in self.adapters.items():
            self.phase = name
            if adapter.transport == "mqtt":
                self.mqtt_site.take(name, adapter, now)
            elif self.next_poll[name] is None or port.ticks_diff(now_ms, self.next_poll[name]) >= 0:
                self._poll(name, adapter, now)
                # What the answer left behind goes now, while the samples kept from it
                # are few: collected often, MicroPython's heap stays in one piece.
                port.collect()
                wait = self.site.devices[name]["poll"] + self.backoff[name]
                self.next_poll[name] = port.ticks_add(self.ticks_ms(), int(wait * 1000))
        for adapter in self.workers:
            self.phase = adapter.name
            adapter.work(self.ticks_ms())  # follow what a device is still carrying out (Enode's actions)

    def _poll(self, name, adapter, now):
        health = self.health[name]
        try:
            signals = adapter.poll()
        except DeviceError as e:
            health.failed(e)
            if e.kind == "timeout":
                self.backoff[name] = min(TIMEOUT_BACKOFF_MAX, max(1, self.backoff[name] * 2))
            return
        except ValueError as e:
            health.failed(DeviceError(name, "poll", "bad answer: %s" % e, "body"))
            return
        except MemoryError:
            health.failed(DeviceError(name, "poll", "out of memory while reading it (%s bytes free after collecting)" % port.collect(), "memory"))
            return
        except Exception as e:
            health.failed(DeviceError(name, "poll", "internal error %s: %s (please report it)" % (e.__class__.__name__, e), "internal"))
            return
        if health.kind is not None:
            self.reassert(name)  # it may have restarted and lost what we set
        health.ok()
        self.backoff[name] = 0
        self.feed(signals, now, adapter.age_of if adapter.aged else None)

    def run(self, seconds, time_of_day, stop=None, ticks_ms=None, sleep_ms=None, before=None, after=None):
        """Turn until ``stop()`` is true (or for ever): the run loop of `run` and of a board.

        ``seconds()`` is the engine's monotonic time, ``time_of_day()`` the seconds
        after local midnight (None while the clock is not set); ``ticks_ms`` and
        ``sleep_ms`` default to port's.  A board passes what it does around each
        turn: ``before(now_ms)`` (feed the watchdog, keep Wi-Fi and the wall clock)
        and ``after()`` (count the turn).
        """
        ticks_ms = ticks_ms or port.ticks_ms
        sleep_ms = sleep_ms or port.sleep_ms
        while stop is None or not stop():
            try:
                now_ms = ticks_ms()
                if before is not None:
                    self.phase = "the board's chores"
                    before(now_ms)
                self.step(seconds(), time_of_day(), now_ms)
                if after is not None:
                    self.phase = "the board's chores"
                    after()
            except MemoryError:
                self.out_of_memory()  # the turn's own, and the board's chores around it
            sleep_ms(self.next_wait_ms(ticks_ms()))

    def next_wait_ms(self, now_ms):
        """How long the loop may sleep before something is due (at most TURN_MS)."""
        wait = TURN_MS
        for name in self.next_poll:
            at = self.next_poll[name]
            if at is not None:
                wait = min(wait, max(0, port.ticks_diff(at, now_ms)))
        return wait

    def close(self):
        """Close device connections and the MQTT link."""
        for adapter in self.adapters.values():
            adapter.close()
        if self.mqtt_site is not None:
            self.mqtt_site.close()
