"""The run loop with adapters on socket-free sessions: it runs on a board too."""

from replay import ReplaySession, ScriptedSession

from sunshift import app, config, port
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
    runner = app.Runner(site, port.Log(sink=lines.append, stamp=lambda: "T"), ruleset=rules(RULES), sessions=sessions)
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
