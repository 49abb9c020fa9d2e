"""Helpers for the portable tests: plain functions, so the same test files run
under pytest on CPython and under tools/mptest.py on MicroPython."""

import os

from sunshift.core import engine
from sunshift.errors import RuleError

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
TESTS = HERE.rsplit("/", 1)[0] if "/" in HERE else ".."
ROOT = TESTS.rsplit("/", 1)[0] if "/" in TESTS else "."
TRACES = TESTS + "/traces"
RULES = ROOT + "/rules"


def raises(kind, fn, *args):
    """Call ``fn(*args)``; return the exception of type ``kind`` it must raise."""
    try:
        fn(*args)
    except kind as e:
        return e
    raise AssertionError("%s was not raised" % kind.__name__)


def near(a, b, tolerance=1e-6):
    """True if two numbers agree to within ``tolerance`` (absolute)."""
    return a is not None and b is not None and abs(a - b) <= tolerance


def rules(text, path="test.rules", catalog=None):
    """A RuleSet from rule text (raises RuleError), checked against ``catalog`` if given."""
    from sunshift.lang import ruleset  # here: a board's package (tools/bench_memory.py --mpy) has no parser

    return ruleset.compile_sources([(path, text)], catalog)


def problems(text, path="test.rules", catalog=None):
    """The 'line:col: message' strings of every problem the text has, errors and warnings."""
    try:
        rs = rules(text, path, catalog)
        found = rs.warnings
    except RuleError as e:
        found = e.problems
    return ["%d:%d: %s%s" % (p.line, p.col, "warning: " if p.warning else "", p.message) for p in found]


def first_problem(text):
    """The first problem's 'line:col: message'; fails if the text has none."""
    found = problems(text)
    assert found, "expected a problem in:\n" + text
    return found[0]


class Run:
    """An engine with a tiny script-like interface for tests.

    ``run.feed(t, name=value, ...)`` is awkward with dotted names, so samples
    are given as a dict: ``run.at(60, {"envoy.net_consumption": -2000})``.
    """

    def __init__(self, text, tod_start=None, engine_class=None, catalog=None, **options):
        self.rs = rules(text, catalog=catalog)
        self.engine = (engine_class or engine.Engine)(self.rs, **options)
        self.tod_start = tod_start
        self.changes = []
        self.events = []

    def tod(self, t):
        return None if self.tod_start is None else (self.tod_start + t) % 86400

    def at(self, t, samples=None):
        """Feed ``samples`` taken at ``t``, tick, and return the changes as (target, value) pairs."""
        for name in samples or {}:
            self.engine.update(name, samples[name], t)
        changes = self.engine.tick(t, self.tod(t))
        self.changes += changes
        self.events += self.engine.take_events()
        return [(c.target, c.value) for c in changes]

    def hold(self, t0, t1, step, samples):
        """Feed the same samples every ``step`` seconds from t0 to t1 (inclusive);
        returns [(t, target, value)] of every change on the way."""
        out = []
        t = t0
        while t <= t1:
            for target, value in self.at(t, samples):
                out.append((t, target, value))
            t += step
        return out

    def state(self, name):
        for r, st in zip(self.engine.rules, self.engine.states):
            if r.name == name:
                return engine.STATE_NAMES[st.state]
        raise KeyError(name)

    def last(self, target):
        """The last Change of ``target``."""
        for c in reversed(self.changes):
            if c.target == target:
                return c
        return None


def scratch(name):
    """A writable path for a test file."""
    folder = "/tmp"
    try:
        import tempfile

        folder = tempfile.gettempdir()
    except ImportError:
        pass
    try:
        os.mkdir(folder)
    except OSError:
        pass
    return folder + "/sunshift-test-" + name
