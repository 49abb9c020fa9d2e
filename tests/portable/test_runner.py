"""The run loop with adapters on socket-free sessions: it runs on a board too."""

import sys

from replay import ReplaySession, ScriptedSession

from sunshift import port
from sunshift.site import config
from sunshift.site.runner import Runner
from support import rules

RULES = "let surplus = -envoy.net_consumption\nrule ev\n  when surplus > 1kW\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = off\n"


class FakeEvcc:
    def __init__(self):
        self.mode = "off"
        self.posts = []

    def __call__(self, method, path, body):
        if method == "GET" and path == "/api/state":
            return 200, ('{"loadpoints": [{"mode": "%s"}]}' % self.mode).encode()
        if method == "POST" and path.startswith("/api/loadpoints/1/mode/"):
            self.mode = path.rsplit("/", 1)[1]
            self.posts.append(self.mode)
            return 200, b'"ok"'
        return 404, b"404 page not found"


def make(variant="7.6.175_with_cts"):
    devices = {"envoy": {"url": "https://envoy.local", "poll": 1}, "evcc": {"url": "http://evcc.local", "poll": 1}}
    site = config.Site({"devices": devices}, {"envoy": {"token": "test-envoy-token"}})
    lines = []
    fake = FakeEvcc()
    sessions = {"envoy": ReplaySession(variant), "evcc": ScriptedSession(fake)}
    runner = Runner(site, port.Log(sink=lines.append, stamp=lambda: "T"), ruleset=rules(RULES), sessions=sessions)
    return runner, fake, lines


def test_a_turn_polls_decides_and_writes():
    runner, fake, lines = make()
    runner.step(0, None, 0)
    assert fake.posts == ["off"]  # the capture exports 11 W, far below 1 kW
    assert any('evcc.loadpoints.1.mode: set "off"' in line for line in lines)


def test_a_bug_in_an_adapter_is_logged_and_the_site_carries_on():
    runner, fake, lines = make()

    def broken():
        raise RuntimeError("the lines are gone")

    runner.adapters["envoy"].poll = broken
    runner.step(0, None, 0)
    runner.step(2, None, 2000)
    warnings = [line for line in lines if "WARN envoy" in line]
    assert warnings == ["T WARN envoy: envoy poll: internal error RuntimeError: the lines are gone (please report it); its signals will go stale"]
    assert fake.posts == ["off"]  # the rule went to its safe branch and the write went out


# What a REST-only deploy leaves off a board (tools/board_files.py).
MQTT_ONLY = (
    "sunshift.site.mqtt",
    "sunshift.devices.mqtt_feed",
    "sunshift.devices.evcc_mqtt",
    "sunshift.devices.emsesp_mqtt",
    "sunshift.net.mqtt",
    "sunshift.net.link",
    "sunshift.net.backoff",
)


def without(modules, run):
    """``run()`` as on a board that lacks ``modules`` (importing them fails); then they are back."""
    kept = [sys.modules.get(name) for name in modules]
    for name in modules:
        sys.modules[name] = None
    try:
        return run()
    finally:
        for name, module in zip(modules, kept):
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


def test_a_rest_only_site_runs_without_the_mqtt_modules():
    runner, fake, _ = without(MQTT_ONLY, make)
    without(MQTT_ONLY, lambda: runner.step(0, None, 0))
    assert runner.mqtt is None and runner.mqtt_site is None
    assert fake.posts == ["off"]


class FakeBroker:
    """An MQTT client without a broker: a scripted inbox, and what was published."""

    def __init__(self):
        self.inbox = []
        self.topics = []
        self.published = []
        self.closed = False

    def subscribe(self, topic):
        self.topics.append(topic)

    def publish(self, topic, payload, retain=False):
        self.published.append((topic, payload, retain))

    def poll(self):
        messages = self.inbox
        self.inbox = []
        return messages

    def close(self):
        self.closed = True


def test_a_device_over_mqtt_is_heard_and_written_through_the_sites_broker_link():
    devices = {"envoy": {"url": "https://envoy.local", "poll": 1}, "evcc": {"transport": "mqtt"}}
    site = config.Site({"mqtt": {"host": "broker.local"}, "devices": devices}, {"envoy": {"token": "test-envoy-token"}})
    broker = FakeBroker()
    lines = []
    log = port.Log(sink=lines.append, stamp=lambda: "T")
    runner = Runner(
        site,
        log,
        ruleset=rules(RULES + "rule seen\n  when evcc.loadpoints.1.chargePower > 0\n  then evcc.site.bufferSoc = 50\n"),
        mqtt_client=broker,
        sessions={"envoy": ReplaySession("7.6.175_with_cts")},
    )
    assert runner.mqtt is broker and broker.topics == ["evcc/#"]
    broker.inbox = [("evcc/loadpoints/1/chargePower", b"3700"), ("other/topic", b"1")]
    runner.step(0, None, 0)
    assert runner.engine.signals.values["evcc.loadpoints.1.chargePower"] == 3700
    assert ("evcc/loadpoints/1/mode/set", "off", False) in broker.published and ("evcc/site/bufferSoc/set", "50", False) in broker.published
    broker.published = []
    broker.inbox = [("evcc/status", b"offline")]
    runner.step(1, None, 1000)
    assert lines[-1] == "T WARN evcc: says it is offline (its MQTT last will); its signals will go stale"
    broker.inbox = [("evcc/status", b"online")]
    runner.step(2, None, 2000)
    assert "T INFO evcc: says it is online again" in lines
    assert ("evcc/loadpoints/1/mode/set", "off", False) in broker.published  # its settings sent again
    broker.published = []
    runner.mqtt_site.state(False, "lost the broker")
    runner.mqtt_site.state(True, "connected to broker.local:1883")
    assert lines[-2:] == ["T WARN mqtt: lost the broker; MQTT signals will go stale", "T INFO mqtt: connected to broker.local:1883"]
    assert broker.published == [("sunshift/status", "online", True)]
    runner.step(3, None, 3000)
    assert ("evcc/loadpoints/1/mode/set", "off", False) in broker.published  # and again after the broker came back
    runner.close()
    assert broker.closed
