"""The site at work: devices polled, MQTT drained, the engine ticked, writes dispatched.

``Runner.step(now, tod)`` is one turn of the loop and does no waiting, so
tests drive it step by step; ``cli.run_forever`` adds the clock and the pauses
(the board's loop is sunshift.device).
Nothing a device does escapes a step: every failure becomes a logged
DeviceError (once per episode), the device's signals go stale, the rest of the
site carries on, and a device that answers again gets its settings re-sent.
"""

from . import engine as engine_module
from . import parser, port
from .dispatch import Dispatcher
from .errors import DeviceError, ModuleMissing, SunshiftError
from .webapi import Health

# Longest pause between loop turns: MQTT messages are seen this soon.
TURN_MS = 50
# A device that times out stalls the loop for its whole timeout, so its polls
# back off (doubling, up to this many seconds) until it answers again.
TIMEOUT_BACKOFF_MAX = 30


def build_adapter(name, spec, mqtt=None, session=None, log=None):
    """A device adapter from its config entry (see config.Site); ``log`` gets
    what an adapter reports by itself (Enode's actions)."""
    kind = spec["type"]
    timeout = spec.get("timeout", 5)
    # Each adapter module is imported only when the site has such a device, so
    # a board holds (and the deploy copies) only the adapters its site uses.
    if kind == "envoy":
        from .envoy import Envoy

        return Envoy(name, spec["url"], spec.get("token"), spec.get("insecure_tls", False), timeout, session)
    # The MQTT transport of a kind is a module of its own too, for the same reason.
    over_mqtt = spec.get("transport") == "mqtt"
    if kind == "evcc":
        if over_mqtt:
            from .evcc_mqtt import EvccMqtt

            return EvccMqtt(name, mqtt, spec.get("topic", "evcc"))
        from .evcc import Evcc

        return Evcc(name, spec.get("url"), timeout, session)
    if kind == "emsesp":
        if over_mqtt:
            from .emsesp_mqtt import EmsEspMqtt

            return EmsEspMqtt(name, mqtt, spec.get("base", "ems-esp"))
        from .emsesp import EmsEsp

        devices = spec.get("devices", () if spec.get("entities") else ("boiler", "thermostat"))
        return EmsEsp(name, spec.get("url"), spec.get("token"), devices, timeout, session, spec.get("entities", ()))
    if kind == "enode":
        from .enode import build

        return build(name, spec, session, log)
    raise DeviceError(name, "config", "unknown device type %r" % kind, "config")


def check_names(rs, devices):
    """Problems with names the rules use that the site does not have: (errors, warnings)."""
    errors = []
    warnings = []
    for target in rs.targets:
        device = target.split(".")[0]
        if device not in devices:
            errors.append("the rules set %s, but the site has no device %r (devices: %s)" % (target, device, ", ".join(sorted(devices))))
        elif devices[device]["type"] == "envoy":
            errors.append("the rules set %s, but the Envoy has nothing to write" % target)
        elif devices[device]["type"] == "enode":
            from .enode import target_problem

            problem = target_problem(target, devices[device].get("aliases", {}))
            if problem:
                errors.append(problem)
    for signal in rs.signals():
        device = signal.split(".")[0]
        if device not in devices:
            warnings.append("the rules read %s, but the site has no device %r: rules that need it stay in their safe branch" % (signal, device))
    return errors, warnings


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
        self.rules = ruleset or parser.load(site.rules)
        errors, warnings = check_names(self.rules, site.devices)
        if errors:
            raise SunshiftError("; ".join(errors))
        for text in warnings:
            log.warn("site", text)
        self.engine = engine_module.Engine(self.rules, site.stale_after, site.max_ages())
        self.wanted = self.rules.signals()
        # The MQTT side (mqtt_site) is loaded only for a site with a device over
        # MQTT: a board deployed for a REST-only site does not have it.
        self.mqtt = None
        self.mqtt_site = None
        if mqtt_client is not None or (site.mqtt and any(d.get("transport") == "mqtt" for d in site.devices.values())):
            from .mqtt_site import MqttSite

            self.mqtt_site = MqttSite(self, mqtt_client)
            self.mqtt = self.mqtt_site.client
        self.adapters = {}
        self.health = {}
        self.next_poll = {}
        self.backoff = {}
        for name, spec in site.devices.items():
            try:
                self.adapters[name] = build_adapter(name, spec, self.mqtt, (sessions or {}).get(name), log)
            except ImportError as e:
                # A board gets only the adapters its config named when it was
                # deployed (tools/deploy.py); a device added later needs a new deploy.
                raise ModuleMissing("device %r (%s): its adapter is not installed here (%s); deploy again with this config" % (name, spec["type"], e))
            self.health[name] = Health(log, name)
            self.next_poll[name] = None
            self.backoff[name] = 0
        # Adapters with work of their own between polls, asked every turn.
        self.workers = [adapter for adapter in self.adapters.values() if hasattr(adapter, "work")]
        for adapter in self.adapters.values():
            if hasattr(adapter, "wanted"):
                adapter.wanted = self.wanted  # an adapter that asks its device for fresh data only for what rules read
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
        except Exception as e:
            raise DeviceError(adapter.name, target, "internal error %s: %s (please report it)" % (e.__class__.__name__, e), "internal")

    def describe(self, target, value):
        """What writing ``target`` would send, for dry-run, when its adapter can say."""
        adapter = self.adapters.get(target.split(".")[0])
        if adapter is None or not hasattr(adapter, "describe"):
            return None
        return adapter.describe(target, value)

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
        """One turn: MQTT, due polls, the engine, the writes.  Returns the changes."""
        self.receive(now, now_ms)
        return self.dispatcher.step(now, tod)

    def receive(self, now, now_ms=None):
        """The first half of a turn: MQTT messages and due polls, into the engine."""
        now_ms = self.ticks_ms() if now_ms is None else now_ms
        if self.mqtt_site is not None:
            self.mqtt_site.receive()
        for name, adapter in self.adapters.items():
            if adapter.transport == "mqtt":
                self.mqtt_site.take(name, adapter, now)
            elif self.next_poll[name] is None or port.ticks_diff(now_ms, self.next_poll[name]) >= 0:
                self._poll(name, adapter, now)
                wait = self.site.devices[name]["poll"] + self.backoff[name]
                self.next_poll[name] = port.ticks_add(self.ticks_ms(), int(wait * 1000))
        for adapter in self.workers:
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
        except Exception as e:
            health.failed(DeviceError(name, "poll", "internal error %s: %s (please report it)" % (e.__class__.__name__, e), "internal"))
            return
        if health.kind is not None:
            self.engine.reassert(name + ".")  # it may have restarted and lost what we set
        health.ok()
        self.backoff[name] = 0
        self.feed(signals, now, getattr(adapter, "age_of", None))

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
        if self.mqtt is not None:
            self.mqtt.close()
