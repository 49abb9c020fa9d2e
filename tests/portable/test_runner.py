"""The run loop with adapters on socket-free sessions: it runs on a board too."""

import sys

from replay import ReplaySession, ScriptedSession

from sunshift import port
from sunshift.errors import DeviceError
from sunshift.site import config
from sunshift.site.runner import Runner
from support import raises, rules

RULES = "let surplus = -envoy.net_consumption\nrule ev\n  when surplus > 1kW\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = off\n"


class FakeEvcc:
    def __init__(self, mode="minpv"):
        self.mode = mode  # what the wall box holds before the engine starts: none of the rules' values
        self.posts = []

    def __call__(self, method, path, body):
        if method == "GET" and path == "/api/state":
            return 200, ('{"loadpoints": [{"mode": "%s"}]}' % self.mode).encode()
        if method == "POST" and path.startswith("/api/loadpoints/1/mode/"):
            self.mode = path.rsplit("/", 1)[1]
            self.posts.append(self.mode)
            return 200, b'"ok"'
        return 404, b"404 page not found"


def make(variant="7.6.175_with_cts", clock=None):
    devices = {"envoy": {"url": "https://envoy.local", "poll": 1}, "evcc": {"url": "http://evcc.local", "poll": 1}}
    site = config.Site({"devices": devices}, {"envoy": {"token": "test-envoy-token"}})
    lines = []
    fake = FakeEvcc()
    sessions = {"envoy": ReplaySession(variant), "evcc": ScriptedSession(fake)}
    runner = Runner(site, port.Log(sink=lines.append, stamp=lambda: "T"), ruleset=rules(RULES), sessions=sessions, ticks_ms=clock)
    return runner, fake, lines


def test_a_turn_polls_decides_and_writes():
    runner, fake, lines = make()
    runner.step(0, None, 0)
    assert fake.posts == ["off"]  # the capture exports 11 W, far below 1 kW
    assert any('evcc.loadpoints.1.mode: set "off"' in line for line in lines)


def test_the_start_reads_the_settings_back_and_writes_only_a_difference():
    runner, fake, _lines = make()
    fake.mode = "off"  # already what the rule wants
    runner.step(0, None, 0)
    runner.step(2, None, 2000)
    assert fake.posts == [] and runner.engine.written["evcc.loadpoints.1.mode"] == "off"
    fake.mode = "now"  # changed by hand in evcc's app: the engine does not know until evcc is back from a fault
    runner.step(4, None, 4000)
    assert fake.posts == []


def test_the_first_decision_waits_for_every_device():
    runner, fake, _lines = make()
    evcc = runner.adapters["evcc"]
    polls = []
    real = evcc.poll

    def late():
        polls.append(1)
        return real()

    evcc.poll = late
    runner.next_poll["evcc"] = 5000  # evcc's first poll comes later than the Envoy's
    runner.step(0, None, 0)
    assert runner.ready is False and fake.posts == [] and runner.engine.started is None
    runner.step(5, None, 5000)
    assert polls == [1] and runner.ready is True and fake.posts == ["off"] and runner.engine.started == 5


def test_a_device_whose_requests_time_out_gets_no_writes_until_it_answers():
    # On a board each try at a silent device costs its whole timeout, the loop's
    # time; the setting waits for the device's next answer instead.
    now = [0]
    runner, fake, _lines = make(clock=lambda: now[0])
    session = runner.adapters["evcc"].api.session
    runner.step(0, None, 0)
    assert fake.posts == ["off"]
    session.fault = "timeout"
    now[0] = 1000
    runner.step(1, None, 1000)  # the poll times out
    asked = len(session.requests)
    try:
        runner.write("evcc.loadpoints.1.mode", "pv")
        raise AssertionError("written")
    except DeviceError as e:
        assert e.kind == "busy" and "while its requests time out" in str(e)
    assert len(session.requests) == asked  # nothing was sent
    session.fault = None
    now[0] = 4000  # its poll (1 s) and the back-off (1 s) have passed
    runner.step(4, None, 4000)
    runner.write("evcc.loadpoints.1.mode", "pv")
    assert fake.posts == ["off", "pv"]


def test_a_bug_in_an_adapter_is_logged_and_the_site_carries_on():
    runner, fake, lines = make()

    def broken():
        raise RuntimeError("the lines are gone")

    runner.adapters["envoy"].poll = broken
    runner.step(0, None, 0)
    runner.step(2, None, 2000)
    warnings = [line for line in lines if "WARN envoy" in line]
    assert warnings == ["T WARN envoy: envoy poll: internal error RuntimeError: the lines are gone (please report it); its signals will go stale"]
    assert fake.posts == []  # warming up: the Envoy has given no value since the start
    runner.step(120, None, 120000)
    assert fake.posts == ["off"]  # then stale: the rule went to its safe branch and the write went out


def test_running_out_of_memory_in_a_poll_makes_the_device_stale_and_the_loop_goes_on():
    ms = [0]
    runner, fake, lines = make(clock=lambda: ms[0])
    runner.step(0, None, 0)
    fake.posts = []
    real = runner.adapters["envoy"].poll

    def short():
        raise MemoryError("memory allocation failed, allocating 6775 bytes")

    runner.adapters["envoy"].poll = short
    for t in range(1, 200, 2):
        ms[0] = t * 1000
        runner.step(t, None, ms[0])
    said = [line for line in lines if "WARN envoy" in line]
    assert len(said) == 1 and "envoy poll: out of memory while reading it (" in said[0] and "bytes free after collecting); its signals will go stale" in said[0]
    assert runner.engine.states[0].safe and runner.engine.states[0].reason.startswith("stale: envoy.net_consumption")
    runner.adapters["envoy"].poll = real
    ms[0] = 201000
    runner.step(201, None, ms[0])
    assert any("envoy: answers again after" in line for line in lines)


def test_running_out_of_memory_elsewhere_in_a_turn_is_logged_once_and_the_loop_goes_on():
    runner, fake, lines = make()
    real = runner.dispatcher.step
    calls = []

    def short(now, tod):
        calls.append(now)
        if len(calls) <= 3:
            raise MemoryError()
        return real(now, tod)

    runner.dispatcher.step = short
    for t in range(5):
        assert runner.step(t, None, t * 1000) == [] or t >= 3
    said = [line for line in lines if "memory" in line]
    assert said[0].startswith("T WARN memory: out of memory in the engine (") and said[0].endswith("; the next turn goes on")
    assert said[1:] == ["T INFO memory: a turn went through again"]  # once per episode, and its end
    assert fake.posts == ["off"]  # the turn after the episode decided and wrote

    # The board's chores around a turn (Wi-Fi, watchdog) are covered too.
    turns = []

    def chores(now_ms):
        turns.append(now_ms)
        if len(turns) == 2:
            raise MemoryError()

    runner.run(lambda: len(turns), lambda: None, stop=lambda: len(turns) >= 4, ticks_ms=lambda: 0, sleep_ms=lambda ms: None, before=chores)
    assert len(turns) == 4 and "out of memory in the board's chores" in lines[-2] and lines[-1].endswith("a turn went through again")


def test_a_write_that_runs_out_of_memory_is_tried_again():
    runner, _fake, lines = make()

    def short(target, value):
        raise MemoryError()

    runner.adapters["evcc"].write = short
    runner.step(0, None, 0)
    said = [line for line in lines if "WARN evcc.loadpoints.1.mode" in line]
    assert len(said) == 1 and 'could not set "off": evcc evcc.loadpoints.1.mode: out of memory while sending it (' in said[0]
    assert said[0].endswith("; trying again in 5s") and "evcc.loadpoints.1.mode" in runner.engine.retry_at


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
        self.dropped = {}  # as the board's client: messages too large to keep
        self.said_dropped = True

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


def test_a_message_too_large_for_the_board_is_logged_once_per_topic():
    devices = {"envoy": {"url": "https://envoy.local", "poll": 1}, "evcc": {"transport": "mqtt"}}
    site = config.Site({"mqtt": {"host": "broker.local"}, "devices": devices}, {"envoy": {"token": "test-envoy-token"}})
    broker = FakeBroker()
    lines = []
    log = port.Log(sink=lines.append, stamp=lambda: "T")
    runner = Runner(site, log, ruleset=rules(RULES), mqtt_client=broker, sessions={"envoy": ReplaySession("7.6.175_with_cts")})
    broker.dropped = {"evcc/site/forecast/grid": 17642}
    broker.said_dropped = False
    runner.step(0, None, 0)
    runner.step(1, None, 1000)
    said = [line for line in lines if "more than a board keeps" in line]
    assert said == ["T WARN mqtt: a message of 17642 bytes on evcc/site/forecast/grid is more than a board keeps; dropped (evcc's tariffs: give evcc a url)"]
    runner.close()


def test_a_loadpoint_evcc_does_not_report_is_refused_over_mqtt_and_in_a_dry_run():
    # evcc takes a setter for a loadpoint it lacks without a word: refused before it is sent.
    devices = {"envoy": {"url": "https://envoy.local", "poll": 1}, "evcc": {"transport": "mqtt"}}
    site = config.Site({"mqtt": {"host": "broker.local"}, "devices": devices}, {"envoy": {"token": "test-envoy-token"}})
    two = RULES.replace("loadpoints.1", "loadpoints.2")
    for dry_run in (False, True):
        broker = FakeBroker()
        lines = []
        log = port.Log(sink=lines.append, stamp=lambda: "T")
        runner = Runner(site, log, ruleset=rules(two), mqtt_client=broker, sessions={"envoy": ReplaySession("7.6.175_with_cts")}, dry_run=dry_run)
        # Retained topics in any order (`updated` among them), then a round of evcc's:
        # from its second `updated` every loadpoint has been heard of.
        broker.inbox = [("evcc/updated", b"1"), ("evcc/loadpoints/1/mode", b"off"), ("evcc/loadpoints/1/chargePower", b"0"), ("evcc/updated", b"2")]
        for t in range(0, 60, 5):  # the start waits for the setting it would read back, then decides
            runner.step(t, None, t * 1000)
        assert not [p for p in broker.published if p[0].startswith("evcc/loadpoints")]
        said = "dry-run: would not set" if dry_run else "could not set"
        wanted = 'T WARN evcc.loadpoints.2.mode: %s "off": evcc.loadpoints.2.mode is for loadpoint 2, but evcc reports one loadpoint; trying again in 5s'
        assert wanted % said in lines, lines
        runner.close()


def test_evccs_loadpoints_and_vehicles_are_known_from_a_whole_reading():
    from sunshift.devices.evcc import Evcc
    from sunshift.errors import ValueRefused

    adapter = Evcc(
        "evcc", "http://evcc.local", session=ScriptedSession(lambda m, p, b: (200, b'{"loadpoints": [{"mode": "off"}], "vehicles": {"car": {"minSoc": 20}}}'))
    )
    assert adapter.validate("evcc.loadpoints.2.mode", "pv")[2] == "pv"  # not read yet: nothing known, nothing refused
    adapter.poll()
    assert adapter.instances == (1, ["car"])
    e = raises(ValueRefused, adapter.validate, "evcc.loadpoints.2.mode", "pv")
    assert str(e) == "evcc.loadpoints.2.mode is for loadpoint 2, but evcc reports one loadpoint"
    e = raises(ValueRefused, adapter.validate, "evcc.vehicles.van.minSoc", 20)
    assert str(e) == "evcc.vehicles.van.minSoc is for vehicle 'van', but evcc reports car"
    assert adapter.validate("evcc.vehicles.car.minSoc", 20)[2] == 20


def test_an_envoys_inverter_figure_is_as_old_as_their_report():
    # 7.3.466's CTs are off: production comes from the inverters' section, whose
    # readingTime is 63 s before the CT sections of the same report. The engine
    # gets it dated so, and a rule allowing 30 s takes it as stale.
    devices = {"envoy": {"url": "https://envoy.local", "poll": 1}, "evcc": {"url": "http://evcc.local", "poll": 1}}
    site = config.Site({"devices": devices}, {"envoy": {"token": "test-envoy-token"}})
    lines = []
    fake = FakeEvcc()
    text = "rule sun\n  when envoy.production > 100W\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = off\n  stale after 30s\n"
    sessions = {"envoy": ReplaySession("7.3.466_metered_disabled_cts"), "evcc": ScriptedSession(fake)}
    runner = Runner(site, port.Log(sink=lines.append, stamp=lambda: "T"), ruleset=rules(text), sessions=sessions)
    runner.step(1000, None, 0)
    assert runner.engine.signals.times["envoy.production"] == 1000 - 63
    assert runner.engine.signals.values["envoy.production"] > 100
    assert fake.posts == ["off"]  # stale: the safe branch, though the figure says the sun shines
    assert any("stale: envoy.production is 1m3s old (limit 30s)" in line for line in lines), lines
