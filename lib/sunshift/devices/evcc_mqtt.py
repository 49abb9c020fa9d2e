"""evcc over MQTT: its topics as published (`evcc/site/pvPower`), settings
written to `<topic>/<setting>/set`.

The value checks, setting names and signal names are evcc.py's; this module is
on a board only when evcc is read over MQTT (devices/kinds.py).
"""

from .. import port, units
from ..errors import DeviceError
from ..text import text_value
from .evcc import TARIFFS, Evcc, number_text, value_text
from .mqtt_feed import MqttFeed, publish, subscribe
from .webapi import WebApi

# evcc's MQTT setter is phasesConfigured (it was `phases` before 2026).
MQTT_SETTERS = {"phases": "phasesConfigured"}


class EvccMqtt(Evcc):
    """One evcc, read and written over MQTT under ``topic``."""

    transport = "mqtt"

    def __init__(self, name, mqtt, topic="evcc", url=None, timeout=Evcc.TIMEOUT, session=None, log=None, tariff_poll=Evcc.TARIFF_POLL, poll=Evcc.POLL):
        self.name = name
        self.mqtt = mqtt
        self.topic = topic.rstrip("/")
        # With evcc's url, the tariffs come over REST (GET /api/tariff/<type>, read as
        # it arrives): a board drops evcc's forecast messages, too large for it.
        self.api = WebApi(name, url, None, False, timeout, "evcc's API needs no token; check the URL", session) if url else None
        self.log = log
        self.tariff_poll_ms = int(tariff_poll * 1000)
        self.tariff_at = None  # ticks_ms of the next reading of the tariffs
        self.poll_ms = int(poll * 1000)  # how often the plans come over REST (evcc's url)
        self.plan_at = None  # ticks_ms of the next reading of the plans
        self.plans = None  # as Evcc's
        self.plan_said = None
        self.feed = MqttFeed(self)
        self.smart_modes = False  # evcc 2026 reports "smart" where older releases said "pv"
        self.instances = None  # as Evcc's, once evcc has said all it has
        self.seen = (0, [])  # every loadpoint and vehicle its topics have shown
        self.rounds = 0  # `updated` topics heard
        subscribe(name, mqtt, self.topic)

    @classmethod
    def build(cls, name, spec, mqtt=None, session=None, log=None):
        """The adapter of a checked config entry read over MQTT."""
        timeout = spec.get("timeout", cls.TIMEOUT)
        tariff_poll = spec.get("tariff_poll", cls.TARIFF_POLL)
        return cls(name, mqtt, spec.get("topic", "evcc"), spec.get("url"), timeout, session, log, tariff_poll, spec.get("poll", cls.POLL))

    def poll(self):
        """What arrived since the last call (see mqtt_feed.MqttFeed), and with evcc's
        url the tariffs and plans the rules read when they are due (Evcc.read_tariffs,
        Evcc.read_plans: every tariff_poll, every poll)."""
        signals = self.feed.take()
        if self.api is not None:
            fetched = {}
            self.read_tariffs(fetched)
            if self.plans_due():
                self.read_plans(fetched, self.seen[0])
            if fetched:
                fetched.update(signals)
                return fetched
        return signals

    def plans_due(self):
        """True at the first call and then every `poll` (GET /api/loadpoints/<n>/plan)."""
        now = port.ticks_ms()
        if self.plan_at is not None and port.ticks_diff(now, self.plan_at) < 0:
            return False
        self.plan_at = port.ticks_add(now, self.poll_ms)
        return True

    def tariffs_due(self):
        """True at the first call and then every tariff_poll: the MQTT side takes
        what arrived at every turn of the loop, not every `poll`."""
        now = port.ticks_ms()
        if self.tariff_at is not None and port.ticks_diff(now, self.tariff_at) < 0:
            return False
        self.tariff_at = port.ticks_add(now, self.tariff_poll_ms)
        return True

    def handle(self, topic, payload):
        """An MQTT message; True if it was this evcc's."""
        if not topic.startswith(self.topic + "/"):
            return False
        rest = topic[len(self.topic) + 1 :]
        if rest.endswith("/set"):
            return True  # evcc clears its setter topics; not state
        if rest == "status":
            self.feed.status(payload)
            return True
        if rest.startswith("site/forecast/") and self.forecast(rest[14:], payload):
            return True
        parts = rest.split("/") if rest.startswith("loadpoints/") or rest.startswith("vehicles/") else None
        if parts is not None and len(parts) == 3 and parts[2] == "plan" and parts[0] == "loadpoints":
            # A loadpoint's plan: its slots as one JSON text (evcc 0.211.1+), left out
            # as over REST (evcc.as_published): `….plan.` names GET …/plan's values.
            return True
        name = self.name + "." + rest.replace("/", ".")
        value = text_value(payload)
        self.feed.set(name, value)
        if rest == "site/currency":
            units.set_currency(value)  # how reasons write a price: "0.19 €/kWh"
        if rest.endswith("/mode") and value == "smart":
            self.smart_modes = True
        if rest == "updated":
            # evcc ends each round of its topics with `updated`.  The retained ones
            # come at once, in any order, `updated` among them: from the second,
            # every loadpoint and vehicle has been heard of.
            self.rounds += 1
            if self.rounds > 1:
                self.instances = self.seen
        elif parts is not None:
            self.seen = self.saw(parts, self.seen)
        return True

    def forecast(self, kind, payload):
        """evcc's `site/forecast/<type>` (a JSON list of rate slots, evcc 0.200 to
        0.313) as the tariff `evcc.tariff.<type>`; `solar/timeseries` as
        `evcc.tariff.solar`.  Parsed only when a rule reads it.  False for the
        other forecast topics (solar/today/energy …): plain signals."""
        if self.api is not None:
            return True  # read over REST instead
        kind = kind.lower()  # evcc publishes feedIn
        if kind == "solar/timeseries":
            kind = "solar"
        if kind not in TARIFFS:
            return False
        name = self.name + ".tariff." + kind
        if not self.wanted or name in self.wanted:
            from .. import forecast  # here: only a site whose rules read a tariff loads it

            self.feed.set(name, forecast.from_json(payload))
        return True

    def _send(self, target, scope, name, kind, value):
        if kind == "vehicle" and value == "detect":
            # evcc starts detection on PATCH /api/loadpoints/<n>/vehicle only: no MQTT setter.
            raise DeviceError(self.name, "MQTT", "evcc starts vehicle detection over REST only (PATCH /api/%svehicle)" % scope, "refused")
        topic = "%s/%s%s/set" % (self.topic, scope, MQTT_SETTERS.get(name, name))
        if value is None:
            payload = "none"  # never an empty payload: evcc ignores those
        elif kind == "plan":
            payload = '{"value": %s, "time": "%s"}' % (number_text(value[0]), value[1])
        else:
            payload = value_text(value)
        publish(self.name, self.mqtt, topic, payload)
