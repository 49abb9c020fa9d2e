"""The engine: states, timers, hysteresis, hold, windows, staleness, arbitration."""

from sunshift.host import sim
from support import Run

EV = """
let surplus = -envoy.net_consumption
rule ev "Car from surplus"
  when surplus > 1.4kW for 2m
  until surplus < 300W for 5m
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
"""

MODE = "evcc.loadpoints.1.mode"


def net(watts):
    return {"envoy.net_consumption": watts}


def test_first_tick_writes_every_targets_initial_value_with_a_reason():
    run = Run(EV)
    assert run.at(0, net(-200)) == [(MODE, "off")]
    c = run.changes[0]
    assert (c.t, c.rule, c.reason) == (0, "ev", "surplus 200 W <= 1.4 kW")
    assert run.events == [(0, "ev", "start -> inactive: surplus 200 W <= 1.4 kW")]
    # Nothing changes, nothing is written again.
    assert run.hold(10, 600, 10, net(-200)) == []


def test_for_delays_the_start_and_a_dip_restarts_it():
    run = Run(EV)
    run.at(0, net(-2000))
    assert run.state("ev") == "pending-on"
    assert run.hold(10, 110, 10, net(-2000)) == []
    run.at(115, net(0))  # a cloud: the count starts again
    assert run.state("ev") == "inactive"
    assert run.hold(120, 230, 10, net(-2000)) == []
    assert run.at(240, net(-2000)) == [(MODE, "pv")]
    assert run.last(MODE).reason == "surplus 2 kW > 1.4 kW for 2m"


def test_a_rule_waiting_to_turn_on_says_which_for_counts_and_what_else_keeps_it_off():
    text = "rule hw\n  when a.p > 2kW for 5m and a.t < 55\n  then h.set = 60\n  else h.set = 50\n"
    run = Run(text)
    run.at(0, {"a.p": 3000, "a.t": 50})
    assert run.events[-1] == (0, "hw", "start -> pending-on: a.p 3 kW > 2 kW for only 0s of 5m")
    run.hold(10, 290, 10, {"a.p": 3000, "a.t": 50})
    run.at(300, {"a.p": 3000, "a.t": 50})
    assert run.state("hw") == "active"
    run = Run(text)
    run.at(0, {"a.p": 3000, "a.t": 60})  # the tank is warm: the surplus counts, the rule stays off
    assert run.events[-1] == (0, "hw", "start -> pending-on: a.p 3 kW > 2 kW for only 0s of 5m; a.t 60 >= 55")
    run.hold(10, 400, 10, {"a.p": 3000, "a.t": 60})
    assert run.state("hw") == "pending-on" and run.last("h.set").value == 50


def test_hysteresis_keeps_it_on_between_the_thresholds():
    run = Run(EV)
    run.hold(0, 120, 10, net(-2000))
    assert run.state("ev") == "active"
    # 800 W: below the start threshold, above the stop threshold: stays on.
    assert run.hold(130, 3000, 10, net(-800)) == []
    assert run.state("ev") == "active"
    # Below 300 W it must stay for 5 minutes; a blip above resets the count.
    run.hold(3010, 3200, 10, net(-100))
    assert run.state("ev") == "pending-off"
    run.at(3210, net(-800))
    assert run.state("ev") == "active"
    changes = run.hold(3220, 3600, 10, net(-100))
    assert changes == [(3520, MODE, "off")]
    assert run.last(MODE).reason == "surplus 100 W < 300 W for 5m"


def test_without_until_the_rule_stops_when_its_condition_stops():
    run = Run("rule r\n  when a.x > 10 for 1m\n  then t.v = 1\n  else t.v = 0\n")
    run.hold(0, 60, 10, {"a.x": 20})
    assert run.last("t.v").value == 1
    assert run.at(70, {"a.x": 5}) == [("t.v", 0)]


def test_hold_spaces_out_changes_and_says_so():
    run = Run(EV + "  hold 10m\n", tod_start=8 * 3600)
    run.at(0, net(-2000))
    changes = run.hold(10, 1200, 10, net(-2000))
    # The first write (off, at t=0) starts the hold: pv waits until 10 minutes.
    assert changes == [(600, MODE, "pv")]
    assert run.last(MODE).reason == "decided 08:02: surplus 2 kW > 1.4 kW for 2m; held by hold 10m until 08:10"
    assert run.last(MODE).decided == 120
    assert (120, MODE, 'ev wants "pv"; held for 8m more (hold 10m)') in run.events
    # The sun goes at 1210; `until ... for 5m` turns the rule off at 1510, long
    # after the hold that started with the last change (at 600) ended.
    changes = run.hold(1210, 2000, 10, net(0))
    assert changes == [(1510, MODE, "off")]


def test_hold_swallows_a_change_that_is_taken_back_in_time():
    run = Run("rule r\n  when a.x > 10\n  then t.v = 1\n  else t.v = 0\n  hold 10m\n")
    run.at(0, {"a.x": 0})
    run.at(60, {"a.x": 20})
    run.at(120, {"a.x": 0})  # back before the hold ended: nothing was ever written
    assert run.hold(130, 1200, 10, {"a.x": 0}) == []
    assert [(c.t, c.value) for c in run.changes] == [(0, 0)]


def test_during_limits_the_hours_and_wraps_past_midnight():
    text = "rule night\n  when a.x\n  then t.v = 1\n  else t.v = 0\n  during 22:00-06:00\n"
    run = Run(text, tod_start=21 * 3600)
    assert run.at(0, {"a.x": True}) == [("t.v", 0)]
    assert run.changes[0].reason == "outside 22:00-06:00 (now 21:00)"
    assert run.at(3600, {"a.x": True}) == [("t.v", 1)]  # 22:00
    assert run.at(3 * 3600, {"a.x": True}) == []  # midnight passes
    assert run.at(9 * 3600, {"a.x": True}) == [("t.v", 0)]  # 06:00
    assert run.last("t.v").reason == "outside 22:00-06:00 (now 06:00)"


def test_an_unset_clock_keeps_during_rules_off():
    run = Run("rule r\n  when a.x\n  then t.v = 1\n  else t.v = 0\n  during 07:00-21:00\n")
    assert run.at(0, {"a.x": True}) == [("t.v", 0)]
    assert run.changes[0].reason == "time of day unknown (clock not set); during 07:00-21:00"


def test_stale_input_sends_the_rule_to_its_safe_branch_at_once_past_hold():
    run = Run(EV + "  hold 30m\n")
    run.hold(0, 600, 10, net(-2000))
    assert run.last(MODE).value == "off"  # t=0; pv is held until 30 min
    run.hold(610, 1800, 10, net(-2000))
    assert run.last(MODE).value == "pv" and run.last(MODE).t == 1800
    # The Envoy stops answering at 1800: after 2 minutes (the default limit) the
    # rule is off and its safe value is written, even though the hold has 28 min left.
    assert run.hold(1810, 1910, 10, {}) == []
    assert run.at(1920, {}) == [(MODE, "off")]
    assert run.last(MODE).reason == "stale: envoy.net_consumption is 2m old (limit 2m)"
    assert (1920, "ev", "active -> inactive: stale: envoy.net_consumption is 2m old (limit 2m)") in run.events
    # It is logged once per episode, not every tick.
    run.hold(1930, 2400, 10, {})
    assert len([e for e in run.events if "stale" in e[2]]) == 1
    # Data returns: the rule starts over (for 2m), and the hold (from 1920) still applies.
    changes = run.hold(2410, 4000, 10, net(-2000))
    assert changes == [(1920 + 1800, MODE, "pv")]
    assert (2410, "ev", "inputs fresh again") in run.events


def test_a_signal_with_no_value_yet_warms_up_then_goes_stale():
    run = Run(EV)  # the default staleness limit: 120 s
    assert run.at(0, {}) == []  # warming up: nothing is written
    assert run.events == [(0, "ev", "warming up: waits for the first value of envoy.net_consumption (its safe branch if none within 2m)")]
    assert run.hold(10, 110, 10, {}) == [] and run.events[1:] == []
    assert run.at(120, {}) == [(MODE, "off")]  # still nothing after its limit: stale, safe as ever
    assert run.changes[0].reason == "stale: envoy.net_consumption has no value yet"


def test_a_value_that_arrives_while_warming_up_decides_the_first_write():
    run = Run(EV)
    run.at(0, {})
    assert run.at(30, net(-200)) == [(MODE, "off")]
    assert run.changes[0].reason == "surplus 200 W <= 1.4 kW"
    # A target waits while any rule that sets it warms up.
    two = EV + "\nrule night\n  when evcc.loadpoints.1.vehicleSoc < 40%\n  then evcc.loadpoints.1.mode = now\n"
    run = Run(two)
    assert run.at(0, net(-200)) == []
    assert run.at(5, {"evcc.loadpoints.1.vehicleSoc": 80}) == [(MODE, "off")]


def test_staleness_limits_per_rule_device_and_signal():
    text = "rule r\n  when a.x > 1\n  then t.v = 1\n  else t.v = 0\n"
    run = Run(text, max_ages={"a": 30})
    run.at(0, {"a.x": 5})
    assert run.at(29, {}) == []
    assert run.last("t.v").value == 1
    assert run.at(30, {}) == [("t.v", 0)]
    run = Run(text, max_ages={"a": 30, "a.x": 300})
    run.at(0, {"a.x": 5})
    assert run.at(299, {}) == []
    assert run.at(300, {}) == [("t.v", 0)]
    run = Run(text + "  stale after 10s\n", max_ages={"a.x": 300})
    run.at(0, {"a.x": 5})
    assert run.at(10, {}) == [("t.v", 0)]
    assert run.last("t.v").reason == "stale: a.x is 10s old (limit 10s)"


def test_a_value_of_the_wrong_kind_is_a_fault_with_a_reason():
    run = Run(EV)
    run.hold(0, 120, 10, net(-2000))
    assert run.last(MODE).value == "pv"
    assert run.at(130, net("<html>503</html>")) == [(MODE, "off")]
    assert run.last(MODE).reason == 'error: envoy.net_consumption is "<html>503</html>", not a number (in let surplus)'
    # Good data again: the rule starts over.
    assert run.hold(140, 260, 10, net(-2000)) == [(260, MODE, "pv")]


def test_arbitration_then_beats_else_and_priority_beats_order():
    text = """
rule day
  when a.sun > 1kW
  then t.mode = "pv"
  else t.mode = "off"
  priority 10
rule night
  when a.cheap
  then t.mode = "now"
  priority 20
rule boost
  when a.boost
  then t.mode = "minpv"
"""
    run = Run(text)
    s = {"a.sun": 0, "a.cheap": False, "a.boost": False}
    assert run.at(0, s) == [("t.mode", "off")]  # no rule on: the strongest else
    s["a.boost"] = True
    assert run.at(10, s) == [("t.mode", "minpv")]  # an active then beats any else
    s["a.sun"] = 2000
    assert run.at(20, s) == [("t.mode", "pv")]  # priority 10 beats 0
    s["a.cheap"] = True
    assert run.at(30, s) == [("t.mode", "now")]  # 20 beats 10
    assert run.last("t.mode").rule == "night"
    s["a.cheap"] = False
    s["a.sun"] = 0
    assert run.at(40, s) == [("t.mode", "minpv")]
    s["a.boost"] = False
    assert run.at(50, s) == [("t.mode", "off")]


def test_equal_priority_goes_to_the_rule_that_comes_first():
    text = "rule a\n  when x.a\n  then t.v = 1\n  else t.v = 0\nrule b\n  when x.b\n  then t.v = 2\n"
    run = Run(text)
    assert run.at(0, {"x.a": True, "x.b": True}) == [("t.v", 1)]
    assert run.at(10, {"x.a": False, "x.b": True}) == [("t.v", 2)]


def test_a_target_without_else_keeps_its_value():
    run = Run("rule r\n  when a.x\n  then t.v = 1\n")
    assert run.at(0, {"a.x": False}) == []
    assert run.at(10, {"a.x": True}) == [("t.v", 1)]
    assert run.at(20, {"a.x": False}) == []


def test_values_can_follow_a_signal():
    run = Run("rule r\n  when a.x > 0\n  then t.amps = min(16, round(a.x / 230))\n  else t.amps = 6\n")
    assert run.at(0, {"a.x": 0}) == [("t.amps", 6)]
    assert run.at(10, {"a.x": 2300}) == [("t.amps", 10)]
    assert run.at(20, {"a.x": 2310}) == []  # still 10 A: nothing to write
    assert run.at(30, {"a.x": 9000}) == [("t.amps", 16)]


def test_a_value_that_cannot_be_computed_is_not_written_and_logged_once():
    run = Run("rule r\n  when a.on\n  then t.amps = a.x / 230\n  else t.amps = 6\n")
    run.at(0, {"a.on": False, "a.x": 1000})
    run.at(10, {"a.on": True, "a.x": "n/a"})
    run.at(20, {"a.on": True, "a.x": "n/a"})
    assert [(c.t, c.value) for c in run.changes] == [(0, 6)]
    assert [e for e in run.events if e[1] == "t.amps"] == [(10, "t.amps", 'not written: a.x is "n/a", not a number')]


def test_reassert_writes_again_after_a_device_comes_back():
    run = Run(EV + "  hold 10m\n")
    run.at(0, net(0))
    assert run.at(10, net(0)) == []
    run.engine.reassert("evcc.")
    assert run.at(20, net(0)) == [(MODE, "off")]  # not a change of value: no hold
    run.engine.reassert("emsesp.")
    assert run.at(30, net(0)) == []


def test_a_failed_write_is_retried_after_a_pause():
    run = Run(EV)
    run.at(0, net(0))
    run.engine.write_failed(MODE, 0, retry_after=30)
    assert run.at(10, net(0)) == []
    assert run.at(30, net(0)) == [(MODE, "off")]


def test_reassert_does_not_wait_out_a_failed_writes_pause():
    run = Run(EV)
    run.at(0, net(0))
    run.engine.write_failed(MODE, 0, retry_after=30)
    run.engine.reassert("evcc.")  # the broker connection came up
    assert run.at(1, net(0)) == [(MODE, "off")]


def test_lets_can_hold_timers_too():
    run = Run("let sunny = a.sun > 1kW for 10m\nrule r\n  when sunny\n  then t.v = 1\n  else t.v = 0\n")
    run.hold(0, 590, 10, {"a.sun": 2000})
    assert run.last("t.v").value == 0
    assert run.at(600, {"a.sun": 2000}) == [("t.v", 1)]


def test_next_deadline_names_the_next_moment_a_decision_can_happen():
    run = Run(EV + "  hold 10m\n", engine_class=sim.SimEngine)  # the simulator's engine asks it
    run.at(0, net(-2000))
    e = run.engine
    assert e.next_deadline(0) == 120  # the `for 2m` and the 2-minute staleness limit
    run.at(5, net(-2000))
    assert e.next_deadline(5) == 120  # the timer; the sample at 5 is fresh until 125
    run.at(120, net(-2000))
    assert e.next_deadline(120) == 240  # the sample at 120 goes stale
    assert e.held  # pv waits for the hold (until 600)
    run.at(239, net(-2000))
    assert e.next_deadline(239) == 359
    run.at(359, net(-2000))
    run.at(479, net(-2000))
    assert e.next_deadline(479) == 599
    run.at(590, net(-2000))
    assert e.next_deadline(590) == 600  # the hold ends


def test_status_lists_every_rule():
    run = Run(EV)
    run.at(0, net(-2000))
    assert run.engine.status() == [("ev", "pending-on", "surplus 2 kW > 1.4 kW for only 0s of 2m")]


def test_nan_and_infinity_from_a_device_are_faults_not_crashes():
    run = Run("rule r\n  when a.x > 5m\n  then t.v = round(a.x)\n  else t.v = 0\n")
    inf = float("inf")
    assert run.at(0, {"a.x": inf}) == [("t.v", 0)]
    assert run.changes[0].reason == "error: a.x is inf, not a number"
    assert run.at(10, {"a.x": inf - inf}) == []
    assert run.at(20, {"a.x": 400}) == [("t.v", 400)]


def test_nan_is_never_written_to_a_device():
    run = Run("rule r\n  when a.on\n  then t.v = a.x\n  else t.v = 0\n")
    run.at(0, {"a.on": True, "a.x": 7})
    run.at(10, {"a.on": True, "a.x": float("nan")})
    assert [(c.t, c.value) for c in run.changes] == [(0, 7)]
    assert run.events[-1] == (10, "t.v", "not written: a.x is nan")


def test_a_condition_held_before_the_window_opens_turns_the_rule_on_at_once():
    run = Run("rule r\n  when a.x > 1 for 10m\n  then t.v = 1\n  else t.v = 0\n  during 07:00-21:00\n", tod_start=6 * 3600 + 30 * 60)
    run.hold(0, 1790, 10, {"a.x": 5})
    assert run.last("t.v").value == 0
    assert run.at(1800, {"a.x": 5}) == [("t.v", 1)]  # 07:00: the 10 minutes were met at 06:40


HOT = "rule r\n  when a.x > 10 for 1m\n  until a.x < 5 for 2m\n  then t.v = 1\n  else t.v = 0\n  hold 10m\n"


def test_a_held_write_carries_the_decision_that_caused_it():
    run = Run(HOT, tod_start=10 * 3600)
    run.hold(0, 600, 10, {"a.x": 20})  # on at 60; its 1 is held until 600 (the first write was 0, at 0)
    run.hold(610, 1140, 10, {"a.x": 0})  # off at 730 (below 5 for 2m): 0 waits for the hold until 1200
    assert run.state("r") == "inactive"
    # At 1150 the rule starts counting towards on again; its 0 is still wanted at 1200.
    changes = run.hold(1150, 1200, 10, {"a.x": 20})
    assert changes == [(1200, "t.v", 0)]
    c = run.last("t.v")
    assert c.reason == "decided 10:12: a.x 0 < 5 for 2m; held by hold 10m until 10:20"
    assert (c.rule, c.decided) == ("r", 730)


def test_a_write_waiting_for_no_hold_says_nothing_of_one():
    run = Run(HOT, tod_start=10 * 3600)
    run.hold(0, 600, 10, {"a.x": 20})
    assert run.last("t.v").reason == "decided 10:01: a.x 20 > 10 for 1m; held by hold 10m until 10:10"
    run.hold(610, 1800, 10, {"a.x": 20})
    changes = run.hold(1810, 2000, 10, {"a.x": 0})
    assert changes == [(1930, "t.v", 0)]
    assert (run.last("t.v").reason, run.last("t.v").decided) == ("a.x 0 < 5 for 2m", 1930)


NIGHT = """
rule day
  when a.x > 10
  then t.mode = pv
  else t.mode = off
  priority 10
rule night
  when a.soc < 40
  until a.soc >= 50
  then t.mode = now
  priority 20
"""


def test_a_rule_that_lets_go_of_a_target_is_credited_with_the_change():
    run = Run(NIGHT)
    assert run.at(0, {"a.x": 0, "a.soc": 35}) == [("t.mode", "now")]
    assert run.last("t.mode").rule == "night"
    # The car reaches 50%: night ends, and day's else takes the target back.
    assert run.at(10, {"a.x": 0, "a.soc": 50}) == [("t.mode", "off")]
    c = run.last("t.mode")
    assert (c.rule, c.reason, c.decided) == ("night", "a.soc 50 >= 50; day's else applies", 10)


def test_a_rule_that_takes_a_target_over_is_credited_with_the_change():
    run = Run(NIGHT)
    run.at(0, {"a.x": 20, "a.soc": 60})
    assert (run.last("t.mode").rule, run.last("t.mode").value) == ("day", "pv")
    assert run.at(10, {"a.x": 20, "a.soc": 35}) == [("t.mode", "now")]
    assert (run.last("t.mode").rule, run.last("t.mode").reason) == ("night", "a.soc 35 < 40")
