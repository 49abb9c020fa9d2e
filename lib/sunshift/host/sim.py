"""The simulator: rules against a trace on virtual time, no devices.

The engine ticks at every trace row and, between rows, at every moment it
could decide something on its own (a `for` timer elapsing, a sample going
stale, a hold ending, a `during` edge), so decision times are exact even on a
trace sampled every few minutes.
"""

from ..core import engine as engine_module
from ..core import signals
from ..forecast import Forecast
from ..lang import nodes
from ..port import json_dumps

DAY = 86400
_NEVER = float("inf")
# A window edge is found again from the time of day at every tick, and the same
# moment can come out a few roundings apart; the quiet time (see advance) stops
# this much below a deadline (relative; 32-bit floats need more room).
_ROOM = 1e-9 if 1.0 + 2.0**-40 != 1.0 else 1e-4


def change_json(change):
    """One output line for a Change, keys in the documented order on every interpreter."""
    return '{"t": %s, "target": %s, "value": %s, "rule": %s, "reason": %s}' % (
        json_dumps(float(change.t)),
        json_dumps(change.target),
        json_dumps(change.value),
        json_dumps(change.rule),
        json_dumps(change.reason),
    )


class SimSignals(signals.Signals):
    """The engine's signal store with the simulator's fast path for a whole trace row."""

    def update_all(self, samples, t):
        """Record samples [(name, value)] all taken at time ``t`` (a trace row);
        the same bookkeeping as Signals.update, once per row."""
        if t is None:
            self.setbacks += 1
        elif self.latest is None or t >= self.latest:
            self.latest = t
        else:
            self.setbacks += 1
        self.values.update(samples)
        times = self.times
        series = self.series
        for name, value in samples:
            times[name] = t
            if type(value) is Forecast:
                self.forecasts[name] = value
                value = self.values[name] = value.at(t)
            if value is None:
                self.setbacks += 1
            if name in series:
                signals.remember(series[name], value, t)


class SimEngine(engine_module.Engine):
    """The engine plus what only the simulator asks of it: when the next decision
    can come without a sample (:meth:`next_deadline`) and ``shortest``, the
    shortest delay a sample or a tick can start.  Kept here, off the board."""

    signals_class = SimSignals

    def __init__(self, ruleset, default_max_age=engine_module.DEFAULT_MAX_AGE, max_ages=None):
        engine_module.Engine.__init__(self, ruleset, default_max_age, max_ages)
        self.durations = []  # per rule: the seconds of each `for` timer slot
        for r in self.rules:
            durations = [0] * r.timers
            _slot_durations(r.when, durations)
            if r.until is not None:
                _slot_durations(r.until, durations)
            self.durations.append(durations)
        self.let_durations = []
        for let in self.lets:
            durations = [0] * let.timers
            _slot_durations(let.expr, durations)
            self.let_durations.append(durations)
        # The spans of the rules' questions to forecasts: a slot's edge, or the
        # edge of a window, can change an answer without a new sample.
        self.spans = []
        for item in self.rules + self.lets:
            for node in item.exprs():
                _spans(node, self.spans)
        # A sample or a tick at t brings no deadline before t + shortest: the
        # shortest positive staleness limit or `for` duration (None: none).
        self.shortest = None
        for seconds in [pair[1] for pair in self.input_limits] + [d for ds in self.durations + self.let_durations for d in ds]:
            if seconds > 0 and (self.shortest is None or seconds < self.shortest):
                self.shortest = seconds

    def update_all(self, samples, t):
        """Samples [(signal, value)] all taken at time ``t`` (a trace row)."""
        self.signals.update_all(samples, t)

    def next_deadline(self, now, tod=None):
        """The earliest time after ``now`` at which a tick could decide something
        without a new sample (a timer, a staleness limit, a hold, a window
        edge), or None.  Windowed averages drift between samples; those are
        only re-read at samples and deadlines."""
        best = None
        times = self.signals.times
        for name, limit in self.input_limits:
            t = times.get(name)
            if t is not None:
                best = _earliest(best, t + limit, now)
        for i, r in enumerate(self.rules):
            st = self.states[i]
            durations = self.durations[i]
            for s in range(r.timers):
                since = st.timers[s]
                if since is not None:
                    best = _earliest(best, since + durations[s], now)
            if r.during is not None and tod is not None:
                best = _earliest(best, now + _next_boundary(r.during, tod), now)
        for i in range(len(self.lets)):
            timers = self.let_timers[i]
            for s in range(len(timers)):
                if timers[s] is not None:
                    best = _earliest(best, timers[s] + self.let_durations[i][s], now)
        forecasts = self.signals.forecasts
        for name in forecasts:
            best = _slot_edge(forecasts[name], now, best, self.spans)
        if tod is not None:
            for kind, a, b in self.spans:
                if kind != "next":
                    best = _earliest(best, now + _next_boundary(((a, b if kind == "between" else a),), tod), now)
        for target in self.held:
            best = _earliest(best, self.changed_at[target] + self.hold[target], now)
        for target in self.retry_at:
            best = _earliest(best, self.retry_at[target], now)
        return best


def _slot_durations(node, out):
    if node[0] == nodes.FOR:
        out[node[3]] = node[2]
    for child in nodes.children(node):
        _slot_durations(child, out)


def _spans(node, out):
    if node[0] == nodes.AHEAD and node[3] not in out:
        out.append(node[3])
    for child in nodes.children(node):
        _spans(child, out)


def _slot_edge(fc, now, best, spans):
    """``best`` or a sooner moment after ``now`` when a slot of ``fc`` begins or
    ends, at now or at the far end of a `next` span."""
    ahead = [0]
    for kind, a, _ in spans:
        if kind == "next" and a not in ahead:
            ahead.append(a)
    for lead in ahead:
        # The first edge after now + lead: a slot's start or end.
        k = fc.index(now + lead)
        if k >= 0:
            edge = fc.ends[k]
        else:
            edge = None
            for j in range(len(fc)):
                if fc.starts[j] > now + lead:
                    edge = fc.starts[j]
                    break
        if edge is not None:
            best = _earliest(best, edge - lead, now)
    return best


def _next_boundary(spans, tod):
    """Seconds from ``tod`` to the next start or end of one of ``spans``."""
    best = DAY
    for start, end in spans:
        for edge in (start, end % DAY):
            wait = (edge - tod) % DAY
            if 0 < wait < best:
                best = wait
    return best


def _earliest(best, candidate, now):
    if candidate > now and (best is None or candidate < best):
        return candidate
    return best


class Simulation:
    """Replays ``trace`` through an engine for ``ruleset``.

    ``start`` is the time of day of t=0 in seconds after midnight.  Every
    Change goes to ``on_change`` and every decision-log entry to ``on_event``.
    """

    def __init__(self, ruleset, start=0, default_max_age=engine_module.DEFAULT_MAX_AGE, max_ages=None, on_change=None, on_event=None):
        self.engine = SimEngine(ruleset, default_max_age, max_ages)
        self.start = start
        self.on_change = on_change
        self.on_event = on_event
        self.on_tick = None  # called with t after every tick (the picture's recorder)
        self.changes = 0
        self.ticks = 0
        self.now = None
        self.quiet_until = None  # no deadline comes before this (None: not known)

    def tod(self, t):
        """Time of day at virtual time ``t``."""
        return (self.start + t) % DAY

    def _tick(self, t):
        self.now = t
        self.ticks += 1
        eng = self.engine
        changes = eng.tick(t, (self.start + t) % DAY)
        # Samples at t and `for` timers started at t bring deadlines no sooner
        # than t + the engine's shortest delay.
        if self.quiet_until is not None and eng.shortest is not None and t + eng.shortest < self.quiet_until:
            self.quiet_until = t + eng.shortest
        if self.on_event is not None:
            for event in eng.take_events():
                self.on_event(event)
        elif eng.events:
            eng.events = []
        if changes:
            self.changes += len(changes)
            if self.on_change is not None:
                for change in changes:
                    self.on_change(change)
        if self.on_tick is not None:
            self.on_tick(t)

    def advance(self, t):
        """Tick at every deadline before ``t``."""
        eng = self.engine
        while self.now is not None:
            # A day of 1-s rows would ask next_deadline 86,400 times for nothing:
            # until quiet_until it has nothing to say, unless a hold or a failed
            # write is pending (those bring deadlines of their own).
            if self.quiet_until is not None and t <= self.quiet_until and not eng.held and not eng.retry_at:
                return
            deadline = eng.next_deadline(self.now, (self.start + self.now) % DAY)
            if deadline is None:
                self.quiet_until = _NEVER
                return
            self.quiet_until = deadline - _ROOM * max(DAY, abs(deadline))
            if deadline >= t:
                return
            self._tick(deadline)

    def step(self, t, samples):
        """Apply one trace row: samples [(signal, value)] taken at ``t``, then tick."""
        eng = self.engine
        quiet = self.quiet_until
        if quiet is None or t > quiet or eng.held or eng.retry_at:  # as advance asks first
            self.advance(t)
        eng.update_all(samples, t)
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
