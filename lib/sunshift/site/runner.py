"""The site at work: devices polled, MQTT drained, the engine ticked, writes dispatched.

``Runner.step(now, tod)`` is one turn of the loop and does no waiting, so
tests drive it step by step; ``Runner.run`` is the loop itself, with the
clocks and the pauses, for the command line and the board alike.

A start does no harm: the engine's first tick comes only after every device
was polled once (or, over MQTT, was heard or its timeout passed); before it
the state file (site/state) gives the engine back what it knew, and what the
devices report of their settings (evcc's mode, EMS-ESP's setpoints) tells it
what they hold, so it writes only a difference.
Nothing a device does escapes a step: every failure becomes a logged
DeviceError (once per episode), the device's signals go stale, the rest of the
site carries on, and a device that answers again gets its settings re-sent.
One slow device does not hold up the others: each request has a deadline (the
device's timeout covers the whole of it, net/http.py and cpython/http.py), and
on CPython each device is polled in a thread of its own (cpython/polls.py)
while this loop goes on.
Running out of memory is no exception: a poll that runs out makes its device
stale (so its rules take their safe branch), a write that runs out is tried
again later, and anything else that runs out is logged once, with where it
happened and the heap left, and the next turn goes on.
"""

from .. import port
from ..core import engine as engine_module
from ..core.dispatch import Dispatcher
from ..devices import kinds
from ..errors import DeviceError, SunshiftError, clip

# Longest pause between loop turns: MQTT messages are seen this soon.
TURN_MS = 50
# A device that times out costs a whole timeout per poll, the loop's when
# devices are polled in turn (a board), so there its polls back off (doubling,
# up to this many seconds) until it answers again; polled in threads (`run`)
# they keep their rate, and a device is read again one poll after it recovers.
TIMEOUT_BACKOFF_MAX = 30
# How long a write waits for the device's poll under way (polled in threads)
# before it is tried again later: a device that answers slowly holds its
# connection for up to its timeout, and the loop must not wait with it.
WRITE_WAIT = 0.2
BUSY_RETRY = 1


def check_names(rs, devices):
    """Problems with names the rules use that the site does not have: (errors, warnings).

    The few checks a rule set compiled elsewhere gets when the site starts (a
    board's, checked in full by the deploy); rule files loaded here are checked
    in full against the site's catalog (site/catalog.py) as they are read."""
    errors = []
    warnings = []
    for target in rs.targets:
        parts = target.split(".")
        spec = devices.get(parts[0])
        if spec is None:
            errors.append("the rules set %s, but the site has no device %r (devices: %s)" % (target, parts[0], ", ".join(sorted(devices))))
            continue
        cls = kinds.adapter_class(spec["type"], "rest", parts[0])
        if not cls.TARGETS:
            errors.append("the rules set %s, but the %s has nothing to write" % (target, cls.title))
        elif cls.setting(parts[1:]) is None:
            errors.append("the rules set %s, which is %s" % (target, cls.NOT_WRITABLE))
        else:
            problem = cls.instance_problem(parts[1:], spec, False)
            if problem:
                errors.append("the rules set %s, but %s" % (target, problem))
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
    ``polls`` (cpython/polls.Polls) polls each device in a thread of its own;
    without it (a board, a test stepping the loop) they are polled in turn.
    """

    def __init__(self, site, log, dry_run=False, ruleset=None, mqtt_client=None, sessions=None, ticks_ms=None, state=None, polls=None):
        self.site = site
        self.polls = polls
        self.state = state  # a StateFile, or None
        self.ticks_ms = ticks_ms or port.ticks_ms
        self.log = log
        # The wall clock in Unix seconds, to put a forecast's slots on the engine's
        # clock (a board passes its own; the demo its simulated day's).
        self.wall = port.unix_time
        self.unplaced = False  # a forecast waited for the clock (logged once)
        if ruleset is None:
            # Rule files, as `run` reads them on a PC; a board passes the rule set
            # it loaded compiled, and never carries the parser (docs/architecture.md).
            from ..lang.ruleset import load
            from .catalog import Catalog

            ruleset = load(site.rules, Catalog(site.devices))
        self.rules = ruleset
        self.engine = self._engine(ruleset)
        self.wanted = self.rules.signals()
        self.adapters = {}
        # The MQTT side (site/mqtt) is loaded only for a site with a device over
        # MQTT: a board deployed for a REST-only site does not have it.
        self.mqtt = None
        self.mqtt_site = None
        if mqtt_client is not None or (site.mqtt and any(d.get("transport") == "mqtt" for d in site.devices.values())):
            from .mqtt import SiteMqtt

            self.mqtt_site = SiteMqtt(site.mqtt, log, self.adapters, self.reassert, self.heard, mqtt_client)
            self.mqtt = self.mqtt_site.client
        self.health = {}
        self.next_poll = {}
        self.backoff = {}
        self.timing_out = {}  # device name -> True while its last request timed out
        # What the turn is doing, for a message when memory runs out: a phase
        # ("the engine") or the name of the device being read.
        self.phase = ""
        self.short_of_memory = None  # the phase of the last MemoryError, until a turn goes through
        # The start: no decision before every device was heard from (or failed).
        self.ready = False
        self.began = None  # ticks_ms of the first turn
        self.now = None  # engine time of the last turn
        self.polled = {}  # device name -> True once polled, heard or given up on since the start
        self.read_back = {}  # device name -> True while its settings are to be read back from its next reading
        self.health_changed = False  # a device's trouble came or went since the state was saved (`status` shows it)
        for name, spec in site.devices.items():
            # A board gets only the adapters its config named when it was deployed
            # (tools/deploy.py); a device added later raises ModuleMissing here.
            self.adapters[name] = kinds.build(name, spec, self.mqtt, (sessions or {}).get(name), log)
            self.health[name] = Health(log, name)
            self.next_poll[name] = None
            self.backoff[name] = 0
            self.polled[name] = False
            self.read_back[name] = True
        # Adapters with work of their own between polls, asked every turn.
        self.workers = [adapter for adapter in self.adapters.values() if adapter.works]
        self._tell_adapters()
        if self._reads_forecasts():
            # Loaded now, with the other lasting objects, rather than at the first
            # reading, in the middle of a board's heap.
            from .. import forecast  # noqa: F401
        self.dispatcher = Dispatcher(self.engine, self.write, log, dry_run, describe=self.describe)

    def _engine(self, ruleset):
        """An engine for ``ruleset``, checked against the site's devices (SunshiftError)."""
        errors, warnings = check_names(ruleset, self.site.devices)
        if errors:
            raise SunshiftError("; ".join(errors))
        for text in warnings:
            self.log.warn("site", text)
        # The check leaves garbage behind; collected now, the engine's lasting
        # objects are laid out in one piece and a board's heap stays whole.
        port.collect()
        return engine_module.Engine(ruleset, self.site.stale_after, self.site.max_ages())

    def _reads_forecasts(self):
        """True if the rules read a signal that is a forecast (an adapter's FORECASTS)."""
        for name in self.wanted:
            adapter = self.adapters.get(name.split(".")[0])
            if adapter is not None and adapter.is_forecast(name):
                return True
        return False

    def _tell_adapters(self):
        for name, adapter in self.adapters.items():
            # An adapter may keep only what the rules read, and the settings it reports back.
            wanted = self.wanted  # shared by the adapters that report none of the rules' targets
            for target in self.rules.targets:
                if target.startswith(name + "."):
                    report = adapter.report_of(target)
                    if report is not None and report not in wanted:
                        if wanted is self.wanted:
                            wanted = list(wanted)
                        wanted.append(report)
            adapter.wanted = wanted

    def reload(self, ruleset):
        """Run ``ruleset`` from now on, in place of the rules running: a rule
        whose definition is unchanged keeps its state and timers, an edited or
        new one starts fresh; the targets keep what they were written and their
        `hold`; the signals and their windows carry over.  SunshiftError (and
        the running rules stay) if the site cannot run it.  Returns a
        snapshot.Restored saying which rules carried on."""
        new = self._engine(ruleset)
        old = self.engine
        now = self.now
        from ..core import snapshot  # forgotten again below: rare work, and a board's heap is small

        if now is not None:
            done = snapshot.put(new, snapshot.take(old, now, 0), now, 0)  # no time passed: every timer runs on
        else:
            done = snapshot.Restored(0)
            done.fresh = [r.name for r in ruleset.rules]
        signals = new.signals
        signals.values.update(old.signals.values)
        signals.times.update(old.signals.times)
        signals.latest = old.signals.latest
        for name in signals.series:
            history = old.signals.series.get(name)
            kept = signals.series[name]
            if history is not None and history.window >= kept.window and (history.lows is not None or kept.lows is None):
                signals.series[name] = history  # the window's samples so far, kept
        new.started = old.started
        self.rules = ruleset
        self.engine = new
        self.dispatcher.engine = new
        self.wanted = ruleset.signals()
        self._tell_adapters()
        if self.state is not None:
            self.state.serve(new)
        del snapshot
        port.unload("sunshift.core.snapshot")
        return done

    def write(self, target, value):
        """Send one target value to its device (the dispatcher's writer)."""
        adapter = self.adapters.get(target.split(".")[0])
        if adapter is None:
            raise DeviceError("site", target, "no such device", "config")
        if adapter.name in self.timing_out:
            # Each try would cost its whole timeout, the loop's on a board: the setting
            # waits for the device's next answer (its settings are re-sent then).
            raise DeviceError(adapter.name, target, "not sent while its requests time out", "busy", BUSY_RETRY)
        if self.polls is not None and not self.polls.take(adapter.name, WRITE_WAIT):
            raise DeviceError(adapter.name, target, "its poll is still under way (the device answers slowly)", "busy", BUSY_RETRY)
        try:
            adapter.write(target, value)
        except DeviceError as e:
            if e.kind == "timeout":
                self.timing_out[adapter.name] = True
            raise
        except (SunshiftError, OSError):
            raise
        except MemoryError:
            raise DeviceError(adapter.name, target, "out of memory while sending it (%s bytes free after collecting)" % port.collect(), "memory")
        except Exception as e:
            raise DeviceError(adapter.name, target, "internal error %s: %s (please report it)" % (e.__class__.__name__, clip(str(e))), "internal")
        finally:
            if self.polls is not None:
                self.polls.give(adapter.name)

    def describe(self, target, value):
        """What writing ``target`` would send, for dry-run, when its adapter can say;
        raises as the write would (Adapter.validate), so a dry run refuses what a
        real one would."""
        adapter = self.adapters.get(target.split(".")[0])
        if adapter is None:
            raise DeviceError(target.split(".")[0], target, "the site has no such device", "refused")
        adapter.validate(target, value)
        return adapter.describe(target, value)

    def reassert(self, name):
        """Have the engine send the device ``name`` its settings again (it may have lost them).

        A device read over REST reports its settings with its next reading, and
        only what differs is sent; one heard over MQTT gets them all again (what
        the broker still holds of it may be older than its restart)."""
        self.engine.reassert(name + ".")
        # Before the first decision (the link comes up at start) the start's read-back goes on.
        self.read_back[name] = not self.ready or self.adapters[name].transport != "mqtt"

    def heard(self, name, signals, now, age_of=None):
        """A reading of device ``name``: its reported settings to the engine (once
        after the start or a recovery), its signals to the rules."""
        self.polled[name] = True
        if self.read_back[name]:
            # Until the first decision every reading counts (MQTT values come one by
            # one); after it, only the first after a recovery.
            if self.ready:
                self.read_back[name] = False
            prefix = name + "."
            adapter = self.adapters[name]
            for target in self.rules.targets:
                if target.startswith(prefix):
                    report = adapter.report_of(target)
                    value = None if report is None else signals.get(report)
                    if value is not None:
                        self.engine.reported(target, value)
        self.feed(signals, now, age_of)

    def feed(self, signals, now, age_of=None):
        """Give the engine the samples it needs from a device's reading.

        ``age_of(signal)`` (an adapter whose data has its own time, like Enode's
        lastSeen) says how old each value is: 0 is now, None is stale at once.
        """
        for name in self.wanted:
            if name in signals:
                if age_of is None:
                    value = signals[name]
                    kind = type(value)
                    if kind is not float and kind is not int and kind is not str and kind is not bool and value is not None:
                        value = self.placed(name, value, now)  # a forecast, the one other kind
                        if value is None:
                            continue
                    self.engine.update(name, value, now)
                    continue
                age = age_of(name)
                if age is None:
                    self.engine.signals.drop(name)
                else:
                    self.engine.update(name, signals[name], now - age)

    def placed(self, name, fc, now):
        """A forecast a device gave in Unix seconds, on the engine's clock (``now``
        is the engine's time of the reading) with the past slots it had kept;
        None while the wall clock is not set (logged once)."""
        from .. import forecast  # here: a board whose devices give none never loads it

        if type(fc) is not forecast.Forecast:
            return fc  # not a forecast after all: as it came
        wall = self.wall()
        if port.utc_parts(wall)[0] < port.CLOCK_SET_FROM:
            if not self.unplaced:
                self.unplaced = True
                self.log.warn(name.split(".")[0], "%s waits for the wall clock to be set: a forecast's slots are times of day" % name)
            return None
        self.unplaced = False
        return forecast.with_past(forecast.shifted(fc, now - wall), self.engine.signals.forecasts.get(name), now)

    def step(self, now, tod, now_ms=None):
        """One turn: MQTT, due polls, the engine, the writes.  Returns the changes.

        A MemoryError is logged once (with where and the heap left) and the
        turn ends there; the next one goes on."""
        try:
            self.receive(now, now_ms)
            changes = self.decide(now, tod, now_ms)
        except MemoryError:
            self.out_of_memory()
            return []
        if self.short_of_memory is not None:
            self.short_of_memory = None
            self.log.info("memory", "a turn went through again")
        return changes

    def decide(self, now, tod, now_ms=None):
        """The second half of a turn: the engine's tick and its writes (not before
        every device was heard from, see _start), then the state saved when due."""
        if not self.ready and not self._start(now, self.ticks_ms() if now_ms is None else now_ms):
            return []
        self.phase = "the engine"
        changes = self.dispatcher.step(now, tod)
        self.now = now
        if self.state is not None and not self.dispatcher.dry_run and (self.health_changed or self.state.due(self.engine, now)):
            self.phase = "saving the state"
            self.save_state(now)
        return changes

    def save_state(self, now):
        """Write the state file now, with each device's trouble for `status`."""
        self.health_changed = False
        devices = {}
        for name, health in self.health.items():
            devices[name] = health.kind
        return self.state.save(self.engine, now, {"devices": devices})

    def _start(self, now, now_ms):
        """True once every device was polled (or heard over MQTT, or its timeout
        passed since the first turn, by the real clock: the demo's engine time
        runs faster): then the saved state is restored, before the engine's
        first tick."""
        if self.began is None:
            self.began = now_ms
        for name, done in self.polled.items():
            if not done:
                spec = self.site.devices[name]
                if spec.get("transport") != "mqtt" or port.ticks_diff(now_ms, self.began) < spec.get("timeout", port.TIMEOUT) * 1000:
                    return False
        self.ready = True
        for name in self.read_back:
            self.read_back[name] = False  # what comes after the first decision may be our own writes arriving
        if self.state is not None:
            self.phase = "restoring the state"
            # The saved state is read and parsed into a heap the devices' first
            # answers left in pieces: collected first, it finds room in one piece.
            port.collect()
            self.state.restore(self.engine, now)
        return True

    def out_of_memory(self):
        """Log once per episode that memory ran out in the current phase."""
        if self.short_of_memory != self.phase:
            self.short_of_memory = self.phase
            where = "the poll of " + self.phase if self.phase in self.adapters else self.phase
            self.log.warn("memory", "out of memory in %s (%s bytes free after collecting); the next turn goes on" % (where, port.collect()))

    def receive(self, now, now_ms=None):
        """The first half of a turn: MQTT messages and due polls, into the engine."""
        now_ms = self.ticks_ms() if now_ms is None else now_ms
        polls = self.polls
        if self.mqtt_site is not None:
            self.phase = "MQTT"
            self.mqtt_site.receive()
        for name, adapter in self.adapters.items():
            self.phase = name
            if adapter.transport == "mqtt":
                self.mqtt_site.take(name, adapter, now)
            elif polls is not None and polls.busy(name):
                continue
            elif self.next_poll[name] is None or port.ticks_diff(now_ms, self.next_poll[name]) >= 0:
                if polls is not None:
                    polls.start(name, self._fetcher(name, adapter))
                    continue
                self._took(name, adapter, now, self._fetch(name, adapter))
                # What the answer left behind goes now, while the samples kept from it
                # are few: collected often, MicroPython's heap stays in one piece.
                port.collect()
        if polls is not None:
            for name, outcome in polls.done():
                self.phase = name
                self._took(name, self.adapters[name], now, outcome)
        for adapter in self.workers:
            self.phase = adapter.name
            # Follow what a device is still carrying out (Enode's actions), not while it is polled.
            if polls is None:
                adapter.work(self.ticks_ms())
            elif polls.take(adapter.name, 0):
                try:
                    adapter.work(self.ticks_ms())
                finally:
                    polls.give(adapter.name)

    def _fetcher(self, name, adapter):
        return lambda: self._fetch(name, adapter)

    def _fetch(self, name, adapter):
        """One poll of ``adapter``: (signals, None), or (None, the DeviceError
        saying why not).  Raises nothing: it may run in a thread of its own."""
        try:
            return adapter.poll(), None
        except DeviceError as e:
            return None, e
        except ValueError as e:
            return None, DeviceError(name, "poll", "bad answer: %s" % clip(str(e)), "body")
        except MemoryError:
            return None, DeviceError(name, "poll", "out of memory while reading it (%s bytes free after collecting)" % port.collect(), "memory")
        except Exception as e:
            return None, DeviceError(name, "poll", "internal error %s: %s (please report it)" % (e.__class__.__name__, clip(str(e))), "internal")

    def _took(self, name, adapter, now, outcome):
        """A poll's outcome into the device's health and the engine; the next poll
        scheduled its ``poll`` seconds (plus any back-off) from now."""
        signals, error = outcome
        health = self.health[name]
        self.polled[name] = True  # failed or not: the start waits for no more
        before = health.kind
        if error is not None:
            health.failed(error)
            if error.stale:
                # The device says its values are no longer true (Enode is down): stale now.
                for signal in self.wanted:
                    if signal.startswith(name + ".") and signal in self.engine.signals.values:
                        self.engine.signals.drop(signal)
            if error.kind == "timeout":
                self.timing_out[name] = True
                if self.polls is None:  # polled in threads, a timeout costs the loop nothing: no back-off
                    self.backoff[name] = min(TIMEOUT_BACKOFF_MAX, max(1, self.backoff[name] * 2))
            else:
                self.timing_out.pop(name, None)
        else:
            self.timing_out.pop(name, None)
            if health.kind is not None:
                self.reassert(name)  # it may have restarted and lost what we set
            health.ok()
            self.backoff[name] = 0
            self.heard(name, signals, now, adapter.age_of if adapter.aged else None)
        if health.kind != before:
            self.health_changed = True
        wait = self.site.devices[name]["poll"] + self.backoff[name]
        self.next_poll[name] = port.ticks_add(self.ticks_ms(), int(wait * 1000))

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
        """Save the engine's state (if it has run), close device connections and the MQTT link."""
        if self.polls is not None:
            self.polls.close(max([spec.get("timeout", port.TIMEOUT) for spec in self.site.devices.values()]))
        if self.state is not None and self.now is not None and not self.dispatcher.dry_run:
            self.save_state(self.now)
        for adapter in self.adapters.values():
            adapter.close()
        if self.mqtt_site is not None:
            self.mqtt_site.close()
