"""Evaluating expressions, unknown values, type errors, and the words of reasons."""

from sunshift.core.signals import Signals
from sunshift.errors import EvalError
from sunshift.lang.expr import Evaluator
from support import near, raises, rules


def condition(text):
    return rules("rule r\n  when %s\n  then a.b = 1\n  else a.b = 0\n" % text).rules[0]


def evaluate(text, values, now=0, timers=None):
    r = condition(text)
    sig = Signals()
    for name in values:
        sig.update(name, values[name], 0)
    ev = Evaluator(sig)
    ev.now = now
    ev.timers = timers if timers is not None else [None] * r.timers
    return ev.condition(r.when), ev, r


def test_arithmetic_with_units():
    assert evaluate("-a.net + a.car > 1.4kW", {"a.net": -1200, "a.car": 300})[0] is True
    assert evaluate("a.x * 2 / 4 - 1 == 4", {"a.x": 10})[0] is True
    assert evaluate("a.amps * 230V >= 3.68kW", {"a.amps": 16})[0] is True
    assert evaluate("2 * a.x > 1kW and a.x * 2 > 1kW and a.x / 2 > 100W", {"a.x": 600})[0] is True


def test_unknown_spreads_and_logic_has_three_values():
    assert evaluate("a.x > 1", {})[0] is None
    assert evaluate("a.x + 1 > 1", {})[0] is None
    assert evaluate("a.x > 1 and a.y > 1", {"a.y": 0})[0] is False  # false and unknown is false
    assert evaluate("a.x > 1 or a.y > 1", {"a.y": 5})[0] is True  # true or unknown is true
    assert evaluate("a.x > 1 or a.y > 1", {"a.y": 0})[0] is None
    assert evaluate("not a.x", {})[0] is None


def test_texts_and_booleans():
    assert evaluate('a.mode == "pv"', {"a.mode": "pv"})[0] is True
    assert evaluate('a.mode != "pv"', {"a.mode": "off"})[0] is True
    assert evaluate("a.on and not a.off", {"a.on": True, "a.off": False})[0] is True
    # true is not 1, even on CPython.
    assert evaluate("a.x == 1", {"a.x": True})[0] is False


def test_wrong_kinds_raise_errors_naming_the_expression():
    e = raises(EvalError, evaluate, "a.x > 1", {"a.x": "abc"})
    assert str(e) == 'a.x is "abc", not a number'
    e = raises(EvalError, evaluate, "a.x", {"a.x": 5})
    assert str(e) == "a.x is 5, not true or false"
    e = raises(EvalError, evaluate, "a.x / a.y > 1", {"a.x": 5, "a.y": 0})
    assert str(e) == "a.y is zero, so a.x cannot be divided by it"
    e = raises(EvalError, evaluate, "-a.x > 1", {"a.x": "minus"})
    assert str(e) == 'a.x is "minus", not a number'


def test_functions():
    assert evaluate("abs(a.x) == 5", {"a.x": -5})[0] is True
    assert evaluate("min(a.x, a.y, 3) == 1", {"a.x": 1, "a.y": 2})[0] is True
    assert evaluate("max(a.x, a.y) == 2", {"a.x": 1, "a.y": 2})[0] is True
    assert evaluate("round(a.x) == 2 and round(a.x, 1) == 1.7", {"a.x": 1.66})[0] is True
    assert evaluate("min(a.x, 5) > 0", {})[0] is None


def test_age_is_seconds_since_the_last_sample():
    r = condition("age(a.x) > 90s")
    sig = Signals()
    sig.update("a.x", 1, 100)
    ev = Evaluator(sig)
    ev.timers = []
    ev.now = 180
    assert ev.value(r.when) is False
    ev.now = 191
    assert ev.value(r.when) is True
    assert ev.explain(r.when, True) == "age(a.x) 1m31s > 1m30s"


def test_for_needs_the_condition_to_hold_that_long():
    r = condition("a.x > 1 for 2m")
    sig = Signals()
    ev = Evaluator(sig)
    ev.timers = [None]
    for t, x, expected in ((0, 5, False), (60, 5, False), (119, 5, False), (120, 5, True), (130, 0, False), (140, 5, False), (260, 5, True)):
        sig.update("a.x", x, t)
        ev.now = t
        assert ev.value(r.when) is expected, (t, x)


def test_a_timer_on_the_right_of_and_keeps_counting_while_the_left_is_false():
    r = condition("a.y and a.x > 1 for 2m")
    r2 = condition("a.y and (a.x > 1 for 2m)")
    for rule in (r, r2):
        sig = Signals()
        ev = Evaluator(sig)
        ev.timers = [None] * rule.timers
        sig.update("a.y", False, 0)
        sig.update("a.x", 5, 0)
        ev.now = 0
        assert ev.value(rule.when) is False
        sig.update("a.y", True, 130)
        ev.now = 130
        # The whole condition (first rule) has held for 0 s; the inner one for 130 s.
        assert ev.value(rule.when) is (rule is r2)


def test_reasons_show_values_next_to_what_they_are():
    _, ev, r = evaluate("avg(a.s, 1m) > 1.4kW for 2m", {})
    ev.signals.track("a.s", 60)
    ev.signals.update("a.s", 1520, 0)
    ev.now = 0
    ev.value(r.when)
    ev.now = 200
    assert ev.value(r.when) is True
    assert ev.explain(r.when, True) == "avg(a.s, 1m) 1.52 kW > 1.4 kW for 2m"
    _, ev, r = evaluate("a.s > 2.5kW for 5m and a.t < 55", {"a.s": 800, "a.t": 50})
    assert ev.explain(r.when, False) == "a.s 800 W <= 2.5 kW"
    _, ev, r = evaluate("-a.n + a.c > 1kW", {"a.n": -500, "a.c": 0})
    assert ev.explain(r.when, False) == "(-a.n + a.c) 500 W <= 1 kW"
    _, ev, r = evaluate("a.on or a.soc < 20%", {"a.on": False, "a.soc": 55})
    assert ev.explain(r.when, False) == "a.on is false and a.soc 55% >= 20%"
    _, ev, r = evaluate("a.x > 1", {})
    assert ev.explain(r.when, None) == "a.x > 1 is unknown"


def test_a_pending_timer_says_how_far_it_got():
    r = condition("a.x > 1 for 2m")
    sig = Signals()
    ev = Evaluator(sig)
    ev.timers = [None]
    sig.update("a.x", 5, 0)
    ev.now = 0
    ev.value(r.when)
    ev.now = 70
    assert ev.value(r.when) is False
    assert ev.explain(r.when, False) == "a.x 5 > 1 for only 1m10s of 2m"


def test_a_timer_over_an_or_does_not_credit_the_side_true_now_with_the_whole_time():
    # a.x > 5 held the first minute, a.y the second: neither held for 2m, the `or` did.
    r = condition("a.x > 5 or a.y for 2m")
    sig = Signals()
    ev = Evaluator(sig)
    ev.timers = [None]
    for t, x, y in ((0, 9, False), (60, 0, True), (120, 0, True)):
        sig.update("a.x", x, t)
        sig.update("a.y", y, t)
        ev.now = t
        ev.value(r.when)
    assert ev.value(r.when) is True
    assert ev.explain(r.when, True) == "a.x > 5 or a.y for 2m (now a.y is true)"
    ev.now = 119
    sig.update("a.y", True, 119)
    ev.timers = [60]
    assert ev.explain(r.when, False) == "a.x > 5 or a.y for only 59s of 2m (now a.y is true)"
    # An `and` held whole: its reason stays as it was.
    r = condition("a.x > 5 and not (a.y or a.z) for 2m")
    ev.timers = [0]
    ev.now = 120
    for name, value in (("a.x", 9), ("a.y", False), ("a.z", False)):
        sig.update(name, value, 120)
    assert ev.explain(r.when, True) == "a.x 9 > 5 and a.y is false and a.z is false for 2m"


def test_windows_read_the_history():
    sig = Signals()
    sig.track("a.x", 60)
    for t in range(0, 61, 10):
        sig.update("a.x", 100 if t >= 30 else 0, t)
    r = condition("avg(a.x, 1m) > 40 and min(a.x, 1m) == 0 and max(a.x, 1m) == 100")
    ev = Evaluator(sig)
    ev.timers = []
    ev.now = 60
    assert near(ev.value(r.when[1][1][2]), 50)
    assert ev.value(r.when) is True
