"""The simulator: rules against a trace on virtual time, no devices.

The engine ticks at every trace row and, between rows, at every moment it
could decide something on its own (a `for` timer elapsing, a sample going
stale, a hold ending, a `during` edge), so decision times are exact even on a
trace sampled every few minutes.
"""

from . import engine as engine_module
from .port import json_dumps

DAY = 86400


def change_json(change):
    """One output line for a Change, keys in the documented order on every interpreter."""
    return '{"t": %s, "target": %s, "value": %s, "rule": %s, "reason": %s}' % (
        json_dumps(float(change.t)),
        json_dumps(change.target),
        json_dumps(change.value),
        json_dumps(change.rule),
        json_dumps(change.reason),
    )


class Simulation:
    """Replays ``trace`` through an engine for ``ruleset``.

    ``start`` is the time of day of t=0 in seconds after midnight.  Every
    Change goes to ``on_change`` and every decision-log entry to ``on_event``.
    """

    def __init__(self, ruleset, start=0, default_max_age=engine_module.DEFAULT_MAX_AGE, max_ages=None, on_change=None, on_event=None):
        self.engine = engine_module.Engine(ruleset, default_max_age, max_ages)
        self.start = start
        self.on_change = on_change
        self.on_event = on_event
        self.changes = 0
        self.ticks = 0
        self.now = None

    def tod(self, t):
        """Time of day at virtual time ``t``."""
        return (self.start + t) % DAY

    def _tick(self, t):
        self.now = t
        self.ticks += 1
        changes = self.engine.tick(t, self.tod(t))
        self.changes += len(changes)
        if self.on_event is not None:
            for event in self.engine.take_events():
                self.on_event(event)
        else:
            self.engine.events = []
        if self.on_change is not None:
            for change in changes:
                self.on_change(change)

    def advance(self, t):
        """Tick at every deadline before ``t``."""
        eng = self.engine
        while self.now is not None:
            deadline = eng.next_deadline(self.now, self.tod(self.now))
            if deadline is None or deadline >= t:
                return
            self._tick(deadline)

    def step(self, t, samples):
        """Apply one trace row: samples [(signal, value)] taken at ``t``, then tick."""
        self.advance(t)
        for name, value in samples:
            self.engine.update(name, value, t)
        self._tick(t)

    def run(self, trace):
        """Replay every row of ``trace``."""
        for t, samples in trace.rows():
            self.step(t, samples)
        return self


def parse_start(text):
    """Seconds after midnight for '--start YYYY-MM-DDTHH:MM' (or a date alone: midnight)."""
    cut = text.find("T")
    date = text if cut < 0 else text[:cut]
    clock = "" if cut < 0 else text[cut + 1 :]
    parts = date.split("-")
    ok = len(parts) == 3 and len(parts[0]) == 4 and len(parts[1]) == 2 and len(parts[2]) == 2
    if ok:
        for p in parts:
            ok = ok and p.isdigit()
    if ok:
        ok = 1 <= int(parts[1]) <= 12 and 1 <= int(parts[2]) <= 31
    if not ok:
        raise ValueError("'%s' is not a start time like 2026-06-21T07:00" % text)
    if not clock:
        return 0
    hm = clock.split(":")
    if len(hm) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in hm):
        raise ValueError("'%s' is not a start time like 2026-06-21T07:00" % text)
    h, m = int(hm[0]), int(hm[1])
    s = int(hm[2]) if len(hm) == 3 else 0
    if h > 23 or m > 59 or s > 59:
        raise ValueError("'%s' is not a start time like 2026-06-21T07:00" % text)
    return h * 3600 + m * 60 + s
