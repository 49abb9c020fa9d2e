"""Random rule sets on random traces: every write's reason is true.

Each write says which rule caused it, why, and when that was decided.  Its
comparisons, re-evaluated on the samples as they were at the decision time
(over the whole `for` duration where the reason claims one), must hold, and a
`stale:` reason must match the samples' ages then (issue 16, point 3).
"""

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sunshift.host import sim
from sunshift.lang import ruleset

NAMES = ["a.x", "a.y"]
OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
DURATIONS = {"30s": 30, "1m": 60, "2m": 120}
PART = re.compile(r"^(a\.[xy]) -?[0-9.]+ (<|<=|>|>=) (-?[0-9]+)(?: for ([0-9a-z]+))?(?: for only [0-9a-z]+ of [0-9a-z]+)?$")
STALE = re.compile(r"^stale: (a\.[xy]) (?:is ([0-9a-z]+) old \(limit 2m\)|has no value yet)$")

comparison = st.builds(
    lambda name, op, n, d: "%s %s %d%s" % (name, op, n, "" if d is None else " for " + d),
    st.sampled_from(NAMES),
    st.sampled_from(sorted(OPS)),
    st.integers(0, 10),
    st.one_of(st.none(), st.sampled_from(sorted(DURATIONS))),
)
# Each `for` in parentheses, so it covers its own comparison.  (A `for` at the
# end of `x or y` covers both, but the reason names only the side true now with
# the whole duration: lang/expr.py's explain, left for later.)
condition = st.one_of(comparison, st.tuples(comparison, st.sampled_from(["and", "or"]), comparison).map(lambda p: "(%s) %s (%s)" % p))
rule = st.fixed_dictionaries(
    {
        "when": condition,
        "until": st.one_of(st.none(), condition),
        "then": st.lists(st.tuples(st.sampled_from(["t.a", "t.b"]), st.integers(0, 3)), min_size=1, max_size=2, unique_by=lambda p: p[0]),
        "else": st.lists(st.tuples(st.sampled_from(["t.a", "t.b"]), st.integers(0, 3)), max_size=2, unique_by=lambda p: p[0]),
        "hold": st.sampled_from([None, 30, 90, 300]),
        "priority": st.integers(0, 2),
    }
)
# One row every 10-60 s; a cell is a value 0..10 or no sample (so inputs go stale).
rows = st.lists(st.tuples(st.integers(10, 60), st.one_of(st.none(), st.integers(0, 10)), st.one_of(st.none(), st.integers(0, 10))), min_size=1, max_size=60)


def rule_text(k, r):
    lines = ["rule r%d" % k, "  when " + r["when"]]
    if r["until"]:
        lines.append("  until " + r["until"])
    lines.append("  then " + ", ".join("%s = %d" % p for p in r["then"]))
    if r["else"]:
        lines.append("  else " + ", ".join("%s = %d" % p for p in r["else"]))
    if r["hold"]:
        lines.append("  hold %ds" % r["hold"])
    lines.append("  priority %d" % r["priority"])
    return "\n".join(lines) + "\n"


def value_at(history, t):
    """(time, value) of the last sample at or before ``t``, or None."""
    last = None
    for sample in history:
        if sample[0] > t:
            break
        last = sample
    return last


def check_part(part, history, at):
    m = PART.match(part)
    if m:
        name, op, threshold, need = m.group(1), m.group(2), int(m.group(3)), m.group(4)
        samples = history[name]
        last = value_at(samples, at)
        assert last is not None, part
        assert OPS[op](last[1], threshold), (part, at, last)
        if need:
            start = at - DURATIONS[need]
            first = value_at(samples, start)
            assert first is not None, (part, at)
            for t, v in samples:
                if start <= t <= at:
                    assert OPS[op](v, threshold), (part, at, t, v)
            assert OPS[op](first[1], threshold), (part, at, first)
        return True
    m = STALE.match(part)
    if m:
        last = value_at(history[m.group(1)], at)
        if m.group(2) is None:
            assert last is None, (part, at)
        else:
            assert last is not None and at - last[0] >= 120, (part, at, last)
        return True
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
# Found in CI: r1 decided at 08:07 just as r3's hold on the target ended; its
# write was said to be "decided 08:07: ...; held by hold 5m" at 08:07.
@example(
    rules=[
        {"when": "a.x < 0", "until": None, "then": [("t.a", 0)], "else": [], "hold": None, "priority": 0},
        {"when": "a.x < 1 for 1m", "until": None, "then": [("t.a", 1)], "else": [], "hold": None, "priority": 0},
        {"when": "a.x < 1", "until": None, "then": [("t.a", 2)], "else": [], "hold": None, "priority": 0},
        {"when": "a.x < 0", "until": None, "then": [("t.a", 0)], "else": [("t.a", 0)], "hold": 300, "priority": 0},
    ],
    trace=[(10, None, None), (10, None, None), (40, None, None)] + [(60, None, None)] * 5 + [(60, 0, None), (10, None, None)],
)
@given(st.lists(rule, min_size=1, max_size=4), rows)
def test_every_writes_reason_is_true_when_it_was_decided(rules, trace):
    text = "".join(rule_text(k, r) for k, r in enumerate(rules))
    rs = ruleset.compile_sources([("fuzz.rules", text)])
    writers = {}
    for k, r in enumerate(rules):
        for target, _ in r["then"] + r["else"]:
            writers.setdefault(target, []).append("r%d" % k)
    changes = []
    simulation = sim.Simulation(rs, start=8 * 3600, on_change=changes.append)
    history = {"a.x": [], "a.y": []}
    t = 0
    for gap, x, y in trace:
        samples = [(name, v) for name, v in (("a.x", x), ("a.y", y)) if v is not None]
        for name, v in samples:
            history[name].append((t, v))
        simulation.step(t, samples)
        t += gap
    checked = 0
    for c in changes:
        assert c.rule in writers[c.target], c
        assert c.decided <= c.t, c
        reason = c.reason
        if c.decided != c.t:
            clock = (8 * 3600 + int(c.decided)) % 86400
            prefix = "decided %02d:%02d: " % (clock // 3600, clock % 3600 // 60)
            assert reason.startswith(prefix), c
            reason = reason[len(prefix) :]
        reason = re.sub(r"; held by hold [0-9a-z]+ until [0-9:]+$", "", reason)
        reason = re.sub(r"; r[0-9]'s (then|else) applies$", "", reason)
        # A rule waiting to turn on says each running `for`, then what else is false.
        for part in reason.replace("; ", " and ").split(" and "):
            if check_part(part, history, c.decided):
                checked += 1
            else:
                assert part.endswith(" is unknown"), (part, c)
    assert checked or not changes or all("unknown" in c.reason for c in changes)
