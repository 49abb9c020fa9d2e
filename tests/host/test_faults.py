"""Bad input is normal: every way a device fails, on a running site.

For each fault: it is logged once per episode (not once per poll), only that
device's signals go stale, the other devices and the engine carry on, and
when the device answers again it is logged once and its signals are fresh.
"""

import time

import pytest
from harness import Site

# Every rule reads one device, so each device's trouble shows in its own rule only.
RULES = """
rule from_envoy
  when envoy.net_consumption < 0
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
rule from_evcc
  when evcc.loadpoints.1.connected
  then emsesp.boiler.dhw.onetime = true
  else emsesp.boiler.dhw.onetime = false
rule from_emsesp
  when emsesp.boiler.dhw.curtemp < 40
  then evcc.site.bufferSoc = 50
  else evcc.site.bufferSoc = 90
"""
SIGNAL = {"envoy": "envoy.net_consumption", "evcc": "evcc.loadpoints.1.connected", "emsesp": "emsesp.boiler.dhw.curtemp"}
STALE = 1.0
ENVOY_FAULTS = ["timeout", "reset", "refuse", "http500", "http503", "html", "truncated", "non_utf8", "wrong_type", "unauthorized"]
OTHER_FAULTS = ["timeout", "refuse", "http500", "html", "truncated", "non_utf8", "unauthorized"]
CASES = [("envoy", f) for f in ENVOY_FAULTS] + [("evcc", f) for f in OTHER_FAULTS] + [("emsesp", f) for f in OTHER_FAULTS]


@pytest.fixture
def site(tmp_path, broker):
    s = Site(tmp_path, broker, RULES, "rest", poll=0.1, stale=STALE, timeout=0.3)
    s.run_until(lambda: all(s.fresh(sig, STALE) for sig in SIGNAL.values()), 5)
    yield s
    s.stop()


def simulator(site, device):
    return {"envoy": site.envoy, "evcc": site.evcc, "emsesp": site.ems}[device]


@pytest.mark.parametrize("device, fault", CASES, ids=["%s-%s" % c for c in CASES])
def test_a_failing_device_is_logged_once_goes_stale_alone_and_recovers(site, device, fault):
    sim = simulator(site, device)
    before = len(site.warnings(device))
    sim.fail(fault)
    site.run_until(lambda: not site.fresh(SIGNAL[device], STALE), 4)
    site.run_for(1.0)  # many more failed polls
    assert len(site.warnings(device)) == before + 1, site.lines[-10:]
    for other, signal in SIGNAL.items():
        if other != device:
            assert site.fresh(signal, STALE), "%s went stale when only %s failed" % (signal, device)
    rule = "from_" + device
    reason = next(s[2] for s in site.engine.status() if s[0] == rule)
    assert reason.startswith("stale: " + SIGNAL[device]), reason
    sim.heal()
    site.run_until(lambda: site.fresh(SIGNAL[device], STALE), 35 if fault == "timeout" else 5)
    assert len([line for line in site.lines if "%s: answers again" % device in line]) == 1


def test_a_string_where_a_number_belongs_sends_the_rule_to_its_safe_branch(site):
    site.ems.set_value("boiler", "dhw", "curtemp", "n/a")

    def said():
        return [line for line in site.lines if "from_emsesp" in line and "not a number" in line]

    site.run_until(lambda: site.evcc.state["bufferSoc"] == 90 and said(), 5)
    site.run_for(0.5)
    assert len(said()) == 1
    assert site.fresh(SIGNAL["envoy"], STALE) and site.fresh(SIGNAL["evcc"], STALE)


def test_a_broker_restart_mid_run(tmp_path, broker):
    rules = RULES.replace("evcc.loadpoints.1.connected", "evcc.loadpoints.1.connected")
    s = Site(tmp_path, broker, rules, "mqtt", poll=0.1, stale=STALE, timeout=0.3)
    try:
        s.run_until(lambda: s.fresh(SIGNAL["evcc"], STALE), 5)
        broker.restart(pause=0.5)
        s.run_until(lambda: not s.fresh(SIGNAL["evcc"], STALE), 5)
        assert s.fresh(SIGNAL["envoy"], STALE), "the Envoy does not depend on the broker"
        s.run_until(lambda: s.fresh(SIGNAL["evcc"], STALE), 10)
        lost = [line for line in s.lines if "WARN mqtt" in line]
        assert len(lost) == 1, lost
        assert any("INFO mqtt: connected" in line for line in s.lines[s.lines.index(lost[0]) :])
    finally:
        s.stop()


# A device that answers a byte at a time, or without end: each request has a
# deadline (its timeout), so it costs only its own poll.
SLOW_FAULTS = ["trickle", "trickle_body", "endless"]
SLOW_RULES = """
rule follows_envoy
  when envoy.net_consumption < 0
  then emsesp.boiler.dhw.seltemp = 60
  else emsesp.boiler.dhw.seltemp = 50
"""


def gaps(sim, path, since):
    """The longest pause between two requests for ``path`` after ``since``."""
    times = [since] + [r.at for r in list(sim.requests) if r.at > since and r.path == path]
    return max(b - a for a, b in zip(times, times[1:]))


@pytest.mark.parametrize("threads", [True, False], ids=["threads", "in-turn"])
@pytest.mark.parametrize("fault", SLOW_FAULTS)
def test_a_device_that_answers_slowly_costs_only_its_own_polls(tmp_path, broker, fault, threads):
    poll, timeout = 0.1, 0.5
    s = Site(tmp_path, broker, SLOW_RULES, "rest", poll=poll, stale=3.0, timeout=timeout, threads=threads)
    try:
        s.run_until(lambda: s.ems.value("boiler", "dhw", "seltemp") == 50, 5)
        s.evcc.fail(fault)
        start = time.monotonic()
        s.run_for(1.5)
        s.envoy.set_power(production=3000, consumption=800)  # exporting: the rule turns on
        took = s.run_until(lambda: s.ems.value("boiler", "dhw", "seltemp") == 60, 5)
        s.run_for(1.0)
        evcc = [r for r in list(s.evcc.requests) if r.at > start]
        # Every request of the slow device ended by its deadline: the loop asked again.
        assert len(evcc) >= 2, len(evcc)
        warned = s.warnings("evcc")
        # Cut by its deadline, its size or (an endless JSON array) the values a document may keep.
        assert len(warned) == 1 and ("no answer within" in warned[0] or "larger than" in warned[0] or "more than 50000 values" in warned[0]), warned
        # The others were polled on schedule: with threads, never waiting for evcc; in
        # turn (as on a board), waiting at most evcc's timeout.
        bound = timeout if threads else poll + timeout + 0.5
        assert gaps(s.envoy, "/ivp/meters/readings", start) < bound
        assert gaps(s.ems, "/api/boiler", start) < bound
        assert took < (1.0 if threads else 2 * (poll + timeout) + 1.0), took
        s.evcc.heal()
        s.run_until(lambda: any("evcc: answers again" in line for line in s.lines), 35)
    finally:
        s.stop()
