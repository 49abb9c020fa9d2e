"""The engine: from signals and rules to the values each target should have.

Pure and deterministic: no I/O and no clock.  The caller feeds samples with
:meth:`Engine.update`, calls :meth:`Engine.tick` with the time, and gets back
the target writes to make.  The same engine runs in real time on a board and a
day per second in the simulator.

Semantics (docs/rules.md has the long form):

* A rule is inactive -> pending-on -> active -> pending-off -> inactive.  It
  turns on when its `when` is true (its `for` timers elapsed) inside its
  `during` windows, and off when its `until` is true (or, without `until`,
  when `when` is no longer true), or when it leaves its windows.
* Desired state: while a rule is on its `then` values are wanted, otherwise
  its `else` values.  For a target several rules set, the strongest rule that
  is on wins with its `then`; if none is on, the strongest rule with an `else`
  wins.  Strongest: highest priority, then the rule that comes first.
* A target is written only when its wanted value differs from what was last
  written, and changes at most once per `hold` (the longest of its rules).
* A rule whose inputs are stale (or cannot be computed) goes to its safe
  branch at once: it is off, its `else` applies, and it is not held back by
  `hold` -- hold protects against flapping on good data, not against faults.
"""

from . import nodes, units
from .errors import EvalError
from .expr import Evaluator
from .port import const
from .signals import Signals

INACTIVE = const(0)
PENDING_ON = const(1)
ACTIVE = const(2)
PENDING_OFF = const(3)
STATE_NAMES = ("inactive", "pending-on", "active", "pending-off")

# How long a sample stays fresh when neither the rule nor the site config says.
DEFAULT_MAX_AGE = const(120)
DAY = const(86400)

_UNSET = object()


class Change:
    """A target write the engine decided: at ``t``, set ``target`` to ``value``."""

    def __init__(self, t, target, value, rule, reason):
        self.t = t
        self.target = target
        self.value = value
        self.rule = rule
        self.reason = reason

    def __repr__(self):
        return "Change(%r, %r, %r, %r, %r)" % (self.t, self.target, self.value, self.rule, self.reason)


class RuleState:
    """What the engine knows about one rule while it runs."""

    def __init__(self, rule):
        self.state = INACTIVE
        self.since = None  # when it entered its state; None before the first tick
        self.timers = [None] * rule.timers
        self.reason = ""  # why it is in its state
        self.safe = False  # stale or in error: forced to its `else`, past any hold
        self.fault = None  # which input or error caused it, to log once per episode


def in_windows(spans, tod):
    """True if the time of day ``tod`` (seconds after midnight) is inside one of ``spans``."""
    for start, end in spans:
        if start < end:
            if start <= tod < end:
                return True
        elif tod >= start or tod < end:  # wraps past midnight
            return True
    return False


def _next_boundary(spans, tod):
    """Seconds from ``tod`` to the next start or end of one of ``spans``."""
    best = DAY
    for start, end in spans:
        for edge in (start, end % DAY):
            wait = (edge - tod) % DAY
            if 0 < wait < best:
                best = wait
    return best


def _windows_text(spans):
    return ", ".join(units.format_clock(s) + "-" + units.format_clock(e) for s, e in spans)


def _slot_durations(node, out):
    if node[0] == nodes.FOR:
        out[node[3]] = node[2]
    for child in nodes.children(node):
        _slot_durations(child, out)


class Engine:
    """Runs a RuleSet.  ``max_ages`` maps a signal name or a device name (the part
    before the first dot) to how many seconds a sample stays fresh."""

    def __init__(self, ruleset, default_max_age=DEFAULT_MAX_AGE, max_ages=None):
        self.rules = ruleset.rules
        self.lets = ruleset.lets
        self.targets = ruleset.targets
        self.writers = ruleset.writers
        self.hold = ruleset.hold
        self.signals = Signals()
        for name in ruleset.windows:
            self.signals.track(name, ruleset.windows[name])
        self.evaluator = Evaluator(self.signals)
        self.states = [RuleState(r) for r in self.rules]
        self.let_timers = [[None] * let.timers for let in self.lets]
        self.let_faults = [None] * len(self.lets)
        max_ages = max_ages or {}
        let_index = {}
        for k, let in enumerate(self.lets):
            let_index[let.name] = k
        self.let_uses = []  # per rule: indexes of the lets it reads, directly or not
        self.limits = []
        self.durations = []
        self.when_slots = []
        self.until_slots = []
        for r in self.rules:
            limits = []
            for name in r.inputs:
                limit = r.stale_after
                if limit is None:
                    limit = max_ages.get(name, max_ages.get(name.split(".")[0], default_max_age))
                limits.append((name, limit))
            self.limits.append(limits)
            self.let_uses.append(_lets_read(r, self.lets, let_index))
            durations = [0] * r.timers
            _slot_durations(r.when, durations)
            if r.until is not None:
                _slot_durations(r.until, durations)
            self.durations.append(durations)
            if r.until is None:
                self.when_slots.append(tuple(range(r.timers)))
                self.until_slots.append(())
            else:
                self.when_slots.append(tuple(range(r.until_first)))
                self.until_slots.append(tuple(range(r.until_first, r.timers)))
        self.let_durations = []
        for let in self.lets:
            durations = [0] * let.timers
            _slot_durations(let.expr, durations)
            self.let_durations.append(durations)
        self.written = {}  # target -> value the device should hold now
        self.last_value = {}  # target -> value of its last change
        self.changed_at = {}  # target -> time of its last change
        self.retry_at = {}  # target -> no new attempt before this time
        self.held = {}  # target -> value waiting for its hold to pass
        self.value_faults = {}  # target -> error text, to log once
        self.events = []  # (t, source, text): the decision log
        self.now = None

    # --- input --------------------------------------------------------------

    def update(self, name, value, t):
        """A sample of signal ``name`` taken at time ``t``."""
        self.signals.update(name, value, t)

    def take_events(self):
        """The decision log since the last call: a list of (t, source, text)."""
        events = self.events
        self.events = []
        return events

    def reassert(self, prefix):
        """Write every target whose name starts with ``prefix`` again at the next
        tick, without waiting out a failed write's pause (a device or the
        broker came back, and may have lost or never had its settings)."""
        for target in self.targets:
            if target.startswith(prefix):
                self.written.pop(target, None)
                self.retry_at.pop(target, None)

    def write_failed(self, target, now, retry_after=30):
        """The write of ``target`` did not reach the device: try again after ``retry_after`` s."""
        self.written.pop(target, None)
        self.retry_at[target] = now + retry_after

    # --- the tick -----------------------------------------------------------

    def tick(self, now, tod=None):
        """Evaluate everything at time ``now`` and return the list of Changes to write.

        ``tod`` is the local time of day in seconds after midnight, or None when
        the clock is not set (rules with `during` then stay off).
        """
        self.now = now
        self.evaluator.now = now
        self._update_lets(now)
        for i in range(len(self.rules)):
            self._step(i, now, tod)
        changes = []
        for target in self.targets:
            self._arbitrate(target, now, changes)
        return changes

    def _log(self, source, text):
        self.events.append((self.now, source, text))

    def _update_lets(self, now):
        ev = self.evaluator
        for i, let in enumerate(self.lets):
            ev.timers = self.let_timers[i]
            try:
                value = ev.value(let.expr)
                self.let_faults[i] = None
            except EvalError as e:
                value = None
                if self.let_faults[i] != str(e):
                    self.let_faults[i] = str(e)
                    self._log(let.name, "cannot compute: %s" % e)
            self.signals.update(let.name, value, now)

    def _fault(self, i, now):
        for k in self.let_uses[i]:
            if self.let_faults[k] is not None:
                return self.lets[k].name, "error: %s (in let %s)" % (self.let_faults[k], self.lets[k].name)
        values = self.signals.values
        times = self.signals.times
        for name, limit in self.limits[i]:
            t = times.get(name)
            if t is None or values.get(name) is None:
                return name, "stale: %s has no value yet" % name
            if now >= t + limit:
                return name, "stale: %s is %s old (limit %s)" % (name, units.format_duration(now - t), units.format_duration(limit))
        return None

    def _set(self, i, state, why, truth=None):
        """Move rule ``i`` to ``state``.  ``why`` is a text, or a node explained
        as ``truth`` -- only rendered when the state changes, as that costs more
        than the whole evaluation."""
        st = self.states[i]
        if st.state == state and st.since is not None:
            return
        if type(why) is not str:
            why = self.evaluator.explain(why, truth)
        before = "start" if st.since is None else STATE_NAMES[st.state]
        self._log(self.rules[i].name, "%s -> %s: %s" % (before, STATE_NAMES[state], why))
        st.state = state
        st.since = self.now
        st.reason = why

    def _go_safe(self, i, fault):
        st = self.states[i]
        for s in range(len(st.timers)):
            st.timers[s] = None
        if st.safe and st.fault == fault[0] and st.state == INACTIVE:
            return
        st.safe = True
        st.fault = fault[0]
        if st.state == INACTIVE and st.since is not None:
            # Already off: the state does not change, but the log must say why it is now safe.
            self._log(self.rules[i].name, "safe: " + fault[1])
            st.reason = fault[1]
        else:
            self._set(i, INACTIVE, fault[1])

    def _step(self, i, now, tod):
        r = self.rules[i]
        st = self.states[i]
        ev = self.evaluator
        ev.timers = st.timers
        fault = self._fault(i, now)
        if fault is None:
            try:
                w = ev.condition(r.when)
                u = None
                if st.state >= ACTIVE and r.until is not None:
                    u = ev.condition(r.until)
            except EvalError as e:
                fault = ("error", "error: %s" % e)
        if fault is not None:
            self._go_safe(i, fault)
            return
        if st.safe:
            st.safe = False
            st.fault = None
            self._log(r.name, "inputs fresh again")
            st.reason = ev.explain(r.when, w)
        inside = True
        if r.during is not None:
            inside = tod is not None and in_windows(r.during, tod)
        if st.state <= PENDING_ON:
            if w is True and inside:
                for s in self.until_slots[i]:
                    st.timers[s] = None
                self._set(i, ACTIVE, r.when, True)
            elif w is True:
                if st.state != INACTIVE or st.since is None:
                    self._set(i, INACTIVE, self._outside(r, tod))
            elif self._counting(i):
                self._set(i, PENDING_ON, r.when, w)
            else:
                self._set(i, INACTIVE, r.when, w)
            return
        if not inside:
            self._set(i, INACTIVE, self._outside(r, tod))
        elif r.until is not None:
            if u is True:
                self._set(i, INACTIVE, r.until, True)
            elif self._counting(i, self.until_slots[i]):
                self._set(i, PENDING_OFF, r.until, u)
            else:
                self._set(i, ACTIVE, r.until, u)
        elif w is not True:
            self._set(i, INACTIVE, r.when, w)

    def _counting(self, i, slots=None):
        """True if one of the rule's `for` timers in ``slots`` (default: those of
        `when`) is running."""
        timers = self.states[i].timers
        for s in self.when_slots[i] if slots is None else slots:
            if timers[s] is not None:
                return True
        return False

    def _outside(self, r, tod):
        if tod is None:
            return "time of day unknown (clock not set); during %s" % _windows_text(r.during)
        return "outside %s (now %s)" % (_windows_text(r.during), units.format_clock(tod))

    def _arbitrate(self, target, now, changes):
        entries = self.writers[target]
        chosen = None
        for entry in entries:
            if entry[1] is not None and self.states[entry[0].order].state >= ACTIVE:
                chosen = entry[0], entry[1]
                break
        if chosen is None:
            for entry in entries:
                if entry[2] is not None:
                    chosen = entry[0], entry[2]
                    break
        if chosen is None:
            return
        rule, node = chosen
        st = self.states[rule.order]
        if node[0] == nodes.NUM or node[0] == nodes.STR or node[0] == nodes.BOOL:
            value = node[1]
        else:
            self.evaluator.timers = st.timers
            try:
                value = self.evaluator.value(node)
            except EvalError as e:
                self._value_fault(target, str(e))
                return
            if value is None:
                return
            if type(value) is float and value - value != 0:
                self._value_fault(target, "%s is %s" % (nodes.unparse(node), value))
                return
        self.value_faults.pop(target, None)
        self._offer(target, value, rule, st, now, changes)

    def _value_fault(self, target, text):
        if self.value_faults.get(target) != text:
            self.value_faults[target] = text
            self._log(target, "not written: " + text)

    def _offer(self, target, value, rule, st, now, changes):
        written = self.written.get(target, _UNSET)
        if written is not _UNSET and units.same_value(written, value):
            self.held.pop(target, None)
            return
        retry = self.retry_at.get(target)
        if retry is not None and now < retry:
            return
        last = self.last_value.get(target, _UNSET)
        is_change = last is _UNSET or not units.same_value(last, value)
        changed = self.changed_at.get(target)
        hold = self.hold[target]
        reason = st.reason
        if is_change and hold and changed is not None and not st.safe:
            if now < changed + hold:
                if target not in self.held or not units.same_value(self.held[target], value):
                    self.held[target] = value
                    wait = units.format_duration(changed + hold - now)
                    self._log(target, "%s wants %s; held for %s more (hold %s)" % (rule.name, units.format_value(value), wait, units.format_duration(hold)))
                return
            if target in self.held:
                reason += " (after hold %s)" % units.format_duration(hold)
        self.held.pop(target, None)
        self.retry_at.pop(target, None)
        if is_change:
            self.last_value[target] = value
            self.changed_at[target] = now
        self.written[target] = value
        changes.append(Change(now, target, value, rule.name, reason))

    # --- for the simulator --------------------------------------------------

    def next_deadline(self, now, tod=None):
        """The earliest time after ``now`` at which a tick could decide something
        without a new sample (a timer, a staleness limit, a hold, a window
        edge), or None.  Windowed averages drift between samples; those are
        only re-read at samples and deadlines."""
        best = None
        times = self.signals.times
        for i, r in enumerate(self.rules):
            st = self.states[i]
            durations = self.durations[i]
            for s in range(r.timers):
                since = st.timers[s]
                if since is not None:
                    best = _earliest(best, since + durations[s], now)
            for name, limit in self.limits[i]:
                t = times.get(name)
                if t is not None:
                    best = _earliest(best, t + limit, now)
            if r.during is not None and tod is not None:
                best = _earliest(best, now + _next_boundary(r.during, tod), now)
        for i in range(len(self.lets)):
            timers = self.let_timers[i]
            for s in range(len(timers)):
                if timers[s] is not None:
                    best = _earliest(best, timers[s] + self.let_durations[i][s], now)
        for target in self.held:
            best = _earliest(best, self.changed_at[target] + self.hold[target], now)
        for target in self.retry_at:
            best = _earliest(best, self.retry_at[target], now)
        return best

    def status(self):
        """[(rule name, state name, reason)] for every rule, for a status display."""
        return [(r.name, STATE_NAMES[self.states[i].state], self.states[i].reason) for i, r in enumerate(self.rules)]


def _lets_read(rule, lets, let_index):
    """Indexes of the lets ``rule`` reads, directly or through other lets."""
    found = []
    todo = []
    for node in [rule.when, rule.until] + [n for _, n in rule.then] + [n for _, n in rule.otherwise]:
        if node is not None:
            nodes.names(node, todo)
    while todo:
        k = let_index.get(todo.pop())
        if k is not None and k not in found:
            found.append(k)
            nodes.names(lets[k].expr, todo)
    return found


def _earliest(best, candidate, now):
    if candidate > now and (best is None or candidate < best):
        return candidate
    return best
