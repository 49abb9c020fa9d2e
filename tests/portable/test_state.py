"""A restart changes nothing: the engine's state saved, restored, and carried
over a reload of the rules (core/snapshot, site/state).  Runs under MicroPython too."""

from test_engine import EV as FREE
from test_runner import RULES as RUNNER_RULES
from test_runner import make

from sunshift import port
from sunshift.core import snapshot
from sunshift.site import state as state_module
from sunshift.site.state import StateFile
from support import Run, rules, scratch

EV = FREE + "  hold 10m\n"  # the rule of test_engine, with a hold
NIGHT = """
rule night
  when evcc.loadpoints.1.vehicleSoc < 40%
  then evcc.loadpoints.2.mode = now
"""
MODE = "evcc.loadpoints.1.mode"
WALL = 1782043200  # 2026-06-21 12:00 UTC: the wall clock when the first engine saves


def sunny(watts=-2000):
    return {"envoy.net_consumption": watts}


def restart(run, now, down, text=EV, wall=WALL, max_ages=None):
    """The state of ``run``'s engine at ``now``, through JSON text, into a new engine
    started ``down`` seconds later by the wall clock (None: the clock was not set)."""
    data = port.json_loads(port.json_dumps(snapshot.take(run.engine, now, wall)))
    snapshot.check(data)
    new = Run(text, max_ages=max_ages)
    later = None if down is None else wall + down
    done = snapshot.put(new.engine, data, 1000, later)
    return new, done


class Lines:
    def __init__(self):
        self.lines = []
        self.log = port.Log(sink=self.lines.append, stamp=lambda: "T")

    def said(self, part):
        return [line for line in self.lines if part in line]


def test_a_for_timer_keeps_its_elapsed_time_across_a_restart():
    run = Run(FREE)
    run.at(0, sunny(-200))  # off, written
    run.hold(10, 70, 10, sunny())  # 60 s of the 2 minutes
    assert run.state("ev") == "pending-on"
    new, done = restart(run, 70, 20, FREE)  # down 20 s: 80 s of 120 have passed
    assert done.kept == ["ev"] and done.fresh == [] and done.timers_restarted == []
    assert new.at(1000, sunny()) == [] and new.state("ev") == "pending-on"
    assert new.at(1039, sunny()) == []
    assert new.at(1040, sunny()) == [(MODE, "pv")]
    assert new.last(MODE).reason == "surplus 2 kW > 1.4 kW for 2m"


def test_a_restart_longer_than_the_staleness_limit_starts_the_timer_again():
    run = Run(FREE)
    run.at(0, sunny(-200))
    run.hold(10, 70, 10, sunny())
    new, done = restart(run, 70, 121, FREE)  # the default limit is 120 s: that gap's data is unknown
    assert done.timers_restarted == ["ev"]
    assert new.hold(1000, 1110, 10, sunny()) == []
    assert new.at(1120, sunny()) == [(MODE, "pv")]
    # The wall clock not set (a board before NTP): the downtime is unknown, the same.
    new, done = restart(run, 70, None, FREE)
    assert done.down is None and done.timers_restarted == ["ev"]


def test_an_active_rule_and_its_write_survive_and_nothing_is_written_again():
    run = Run(FREE)
    run.hold(0, 120, 10, sunny())
    assert run.last(MODE).value == "pv" and run.state("ev") == "active"
    new, _done = restart(run, 130, 5, FREE)
    assert new.at(1000, sunny()) == [] and new.state("ev") == "active"
    assert new.hold(1010, 2000, 10, sunny()) == []
    assert new.engine.written[MODE] == "pv"


def test_hold_counts_on_from_the_last_change_across_a_restart():
    run = Run(EV)
    run.at(0, sunny(-200))  # off, written at 0: no other value before 600
    run.hold(10, 300, 10, sunny())  # active from 130, pv held
    assert run.state("ev") == "active" and run.changes[-1].value == "off"
    new, _done = restart(run, 300, 60)  # the new engine's 1000 is the old 360
    assert new.at(1000, sunny()) == []
    assert new.events[-1][2] == 'ev wants "pv"; held for 4m more (hold 10m)'
    assert new.hold(1010, 1230, 10, sunny()) == []
    assert new.at(1240, sunny()) == [(MODE, "pv")]  # the old 600: 10 minutes after off
    assert new.last(MODE).reason.endswith("surplus 2 kW > 1.4 kW for 2m; held by hold 10m until now")


def test_an_edited_rule_starts_fresh_and_the_others_carry_on():
    run = Run(EV + NIGHT)
    run.hold(0, 60, 10, dict(sunny(), **{"evcc.loadpoints.1.vehicleSoc": 30}))
    edited = EV.replace("for 2m", "for 3m") + NIGHT
    new, done = restart(run, 60, 1, text=edited)
    assert done.kept == ["night"] and done.fresh == ["ev"]
    assert new.state("night") == "active"
    # A rule no longer in the rules is named too.
    new, done = restart(run, 60, 1, text=EV)
    assert done.gone == ["night"] and done.kept == ["ev"]


def test_a_let_counts_as_part_of_the_rules_that_read_it():
    run = Run(EV)
    run.hold(0, 60, 10, sunny())
    _new, done = restart(run, 60, 1, text=EV.replace("-envoy.net_consumption", "-envoy.net_consumption - 100"))
    assert done.fresh == ["ev"]


def test_the_state_file_is_written_atomically_and_read_back():
    path = scratch("state-roundtrip.json")
    port.remove(path)
    out = Lines()
    run = Run(EV)
    state = StateFile(path, out.log, every=60, wall=lambda: WALL)
    state.serve(run.engine)
    run.at(0, sunny(-200))
    assert state.due(run.engine, 0)  # a write: saved at once
    assert state.save(run.engine, 0) and not state.due(run.engine, 0)
    run.at(10, sunny())  # inactive -> pending-on: a change, but no write
    assert run.engine.target_revision == state.target_revision and not state.due(run.engine, 10)
    assert state.due(run.engine, 60)  # at most once a minute (a board's `every`)
    state.save(run.engine, 60)
    assert port.file_size(path + ".tmp") is None  # renamed into place
    new = Run(EV)
    later = StateFile(path, out.log, wall=lambda: WALL + 30)
    done = later.restore(new.engine, 500)
    assert done.kept == ["ev"]
    assert out.said("T INFO state: restored from %s, saved 30s ago: 1 rule carries on where it left off; 1 target known" % path)
    port.remove(path)


def test_a_bad_state_file_is_said_in_one_line_and_ignored():
    path = scratch("state-bad.json")
    run = Run(EV)
    good = snapshot.take(run.engine, 0, WALL)
    cases = [
        ('{"sunshift": "engine state", "format": 1, "saved": 17', "not JSON: truncated or damaged"),
        ("\x00\x01garbage", "not JSON: truncated or damaged"),
        ('{"devices": {}}', "not a sunshift state file"),
        (port.json_dumps(dict(good, format=99)), "state of format 99; this sunshift reads format 1"),
        (port.json_dumps(dict(good, rules=[["ev", 1, "flying", 0, [], ""]])), 'a rule entry ["ev", 1, "flying", 0, [], ""] is not one this code wrote'),
        (port.json_dumps(dict(good, targets=[{"target": MODE, "changed": -5, "last": "pv"}])), "a target entry"),
        (port.json_dumps(dict(good, rules=None)), "it has no list of rules"),
    ]
    for text, why in cases:
        with open(path, "w") as f:
            f.write(text)
        out = Lines()
        fresh = Run(EV)
        assert StateFile(path, out.log).restore(fresh.engine, 0) is None
        assert len(out.lines) == 1 and out.lines[0].startswith("T WARN state: %s is not usable (" % path), out.lines
        assert why in out.lines[0] and out.lines[0].endswith("; ignored: a fresh start")
        assert fresh.at(0, sunny(-200)) == [(MODE, "off")]  # a fresh engine, as without a file
    with open(path, "w") as f:
        f.write(" " * (state_module.MAX_BYTES + 1))
    out = Lines()
    StateFile(path, out.log).restore(Run(EV).engine, 0)
    assert "more than a state file holds" in out.lines[0]
    port.remove(path)
    out = Lines()
    assert StateFile(path, out.log).restore(Run(EV).engine, 0) is None
    assert out.lines == ["T INFO state: no saved state in %s: a fresh start" % path]


def test_a_state_file_that_cannot_be_written_is_said_once_and_the_engine_runs_on():
    out = Lines()
    run = Run(EV)
    state = StateFile(scratch("no-such-folder/deeper/state.json"), out.log)
    run.at(0, sunny(-200))
    assert state.save(run.engine, 0) is False
    run.hold(10, 130, 10, sunny())
    assert state.save(run.engine, 130) is False
    assert len(out.said("WARN state: cannot save")) == 1


def test_a_runner_restarted_with_unchanged_inputs_writes_nothing():
    path = scratch("state-runner.json")
    port.remove(path)
    out = Lines()
    runner, fake, _lines = make()
    runner.state = StateFile(path, out.log, wall=lambda: WALL)
    runner.step(0, None, 0)
    runner.step(2, None, 2000)
    assert fake.posts == ["off"]
    runner.close()  # saves
    again, fake2, _lines2 = make()
    fake2.mode = "minpv"  # the wall box does not report what was written: the state file says it
    again.adapters["evcc"].report_of = lambda target: None
    again.state = StateFile(path, out.log, wall=lambda: WALL + 5)
    for t in range(0, 10, 2):
        again.step(t, None, t * 1000)
    assert fake2.posts == []
    assert out.said("state: restored from %s, saved 5s ago: 1 rule carries on" % path)
    port.remove(path)


def test_a_reload_keeps_unchanged_rules_timers_and_starts_changed_ones_fresh():
    runner, fake, _lines = make()
    runner.step(0, None, 0)
    text = RUNNER_RULES.replace("when surplus > 1kW", "when surplus > -1kW for 30s")  # true with the capture's 11 W export
    done = runner.reload(rules(text))
    assert done.fresh == ["ev"] and done.kept == []
    for t in range(2, 20, 2):
        runner.step(t, None, t * 1000)
    assert fake.posts == ["off"]
    # An unchanged reload keeps the running `for` timer: pv 30 s after it began, not later.
    again = runner.reload(rules(text + "\nrule other\n  when envoy.production > 1000kW\n  then evcc.loadpoints.2.mode = now\n"))
    assert again.kept == ["ev"] and again.fresh == ["other"]
    for t in range(20, 34, 2):
        runner.step(t, None, t * 1000)
    assert fake.posts == ["off", "pv"]
    assert runner.engine.states[0].since == 32


def test_a_reload_the_site_cannot_run_keeps_the_running_rules():
    runner, _fake, _lines = make()
    runner.step(0, None, 0)
    before = runner.engine
    try:
        runner.reload(rules("rule x\n  when envoy.production > 1\n  then heatpump.power = 1\n"))
    except Exception as e:
        assert "the site has no device 'heatpump'" in str(e)
    else:
        raise AssertionError("the reload was not refused")
    assert runner.engine is before and runner.dispatcher.engine is before


CHEAP = """
rule car
  when cheapest(evcc.tariff.grid, 3h, before 07:00)
  then evcc.loadpoints.1.mode = now
  else evcc.loadpoints.1.mode = off
"""
# Hourly prices from 18:00: the cheapest three hours before 07:00 are 01:00-04:00.
PRICES = (0.35, 0.33, 0.30, 0.28, 0.25, 0.22, 0.18, 0.15, 0.14, 0.16, 0.20, 0.26, 0.31, 0.29)
HOUR = 3600


def test_cheapest_keeps_the_hours_it_chose_across_a_restart():
    from sunshift import forecast

    assert snapshot.KEEP_PAST == forecast.KEEP_PAST  # snapshot names it without loading forecast

    run = Run(CHEAP, tod_start=18 * HOUR)
    run.at(0, {"evcc.tariff.grid": forecast.build([(h * HOUR, (h + 1) * HOUR, p) for h, p in enumerate(PRICES)])})
    run.hold(600, 8 * HOUR + 1800, 600, {})
    assert run.state("car") == "active"  # 02:30, since 01:00
    data = port.json_loads(port.json_dumps(snapshot.take(run.engine, 8 * HOUR + 1800, WALL)))
    assert [(run[1], len(run[2])) for run in data["forecasts"]["evcc.tariff.grid"]] == [(HOUR, 9)]  # 18:00 to the slot of 02:00, one run
    # Ten seconds later a new process; evcc reports its rates from the slot of now (02:00) on.
    later = WALL + 10
    tod = 2 * HOUR + 1810
    for past in (True, False):
        new = Run(CHEAP, tod_start=tod - 1000)
        if past:
            snapshot.put(new.engine, data, 1000, later)
        ahead = forecast.build(
            [(1000 + (WALL - 8 * HOUR - 1800 + h * HOUR) - later, 1000 + (WALL - 7 * HOUR - 1800 + h * HOUR) - later, PRICES[h]) for h in range(8, 14)]
        )
        new.at(1000, {"evcc.tariff.grid": forecast.with_past(ahead, new.engine.signals.forecasts.get("evcc.tariff.grid"), 1000)})
        out = new.hold(1600, 1000 + 4 * HOUR, 600, {})
        off = next(t for t, _, value in out if value == "off")
        # With the hours already past it turns off at 04:00 as it would have; without
        # them it would take 04:00-05:00 too, the fourth hour of three.
        assert (new.tod(off) // HOUR) == (4 if past else 5), (past, new.tod(off) / HOUR)
