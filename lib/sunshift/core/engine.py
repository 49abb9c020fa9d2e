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
* Each write carries the decision behind it: the rule whose change made the
  target want its value (the one that lost it, if its turning off let another
  rule's value through), that rule's reason, and when it was decided -- a
  write held back by `hold` says so, with the reason of its decision.
* A rule whose inputs are stale (or cannot be computed) goes to its safe
  branch at once: it is off, its `else` applies, and it is not held back by
  `hold` -- hold protects against flapping on good data, not against faults.
* At start an input that has had no value yet is *warming up*, not stale: the
  rule keeps its state (restored from the state file, or none yet) and the
  targets it sets are not written, until the value arrives or the input's
  staleness limit has passed since the first tick (then it is stale, as above).
  A restart therefore writes nothing before the devices have been heard.
"""

from .. import units
from ..errors import EvalError
from ..lang import nodes
from ..lang.expr import Evaluator, method_for, need_truth
from ..port import const
from .signals import Signals

INACTIVE = const(0)
PENDING_ON = const(1)
ACTIVE = const(2)
PENDING_OFF = const(3)
STATE_NAMES = ("inactive", "pending-on", "active", "pending-off")

# How long a sample stays fresh when neither the rule nor the site config says.
DEFAULT_MAX_AGE = const(120)

_UNSET = object()
_NEVER = float("inf")


class Change:
    """A target write the engine decided: at ``t``, set ``target`` to ``value``;
    ``rule`` caused it with ``reason``, decided at time ``decided``."""

    def __init__(self, t, target, value, rule, reason, decided=None):
        self.t = t
        self.target = target
        self.value = value
        self.rule = rule
        self.reason = reason
        self.decided = t if decided is None else decided

    def __repr__(self):
        return "Change(%r, %r, %r, %r, %r)" % (self.t, self.target, self.value, self.rule, self.reason)


class RuleState:
    """What the engine knows about one rule while it runs."""

    def __init__(self, rule):
        self.state = INACTIVE
        self.since = None  # when it entered its state; None before the first tick
        self.timers = [None] * rule.timers if rule.timers else ()  # () is shared: no list for a rule without `for`
        self.reason = ""  # why it is in its state
        self.safe = False  # stale or in error: forced to its `else`, past any hold
        self.fault = None  # which input or error caused it, to log once per episode

    warming = False  # waiting for an input's first value (class default: no slot per rule)
    reason_at = None  # when its reason was decided, if not at ``since`` (a fault, fresh data)


def in_windows(spans, tod):
    """True if the time of day ``tod`` (seconds after midnight) is inside one of ``spans``."""
    for start, end in spans:
        if start < end:
            if start <= tod < end:
                return True
        elif tod >= start or tod < end:  # wraps past midnight
            return True
    return False


def _windows_text(spans):
    return ", ".join(units.format_clock(s) + "-" + units.format_clock(e) for s, e in spans)


class Engine:
    """Runs a RuleSet.  ``max_ages`` maps a signal name or a device name (the part
    before the first dot) to how many seconds a sample stays fresh."""

    signals_class = Signals  # the simulator's engine keeps its samples in a subclass

    def __init__(self, ruleset, default_max_age=DEFAULT_MAX_AGE, max_ages=None):
        self.rules = ruleset.rules
        self.lets = ruleset.lets
        self.targets = ruleset.targets
        self.writers = ruleset.writers
        self.hold = ruleset.hold
        self.signals = self.signals_class()
        extremes = []  # names min() or max() is asked of; the others keep no lows and highs
        for item in self.rules + self.lets:
            for node in item.exprs():
                _extremes(node, extremes)
        for name in ruleset.windows:
            self.signals.track(name, ruleset.windows[name], name in extremes)
        self.evaluator = Evaluator(self.signals)
        self.states = [RuleState(r) for r in self.rules]
        self.let_timers = [[None] * let.timers if let.timers else () for let in self.lets]
        self.let_faults = [None] * len(self.lets)
        max_ages = max_ages or {}
        let_index = {}
        for k, let in enumerate(self.lets):
            let_index[let.name] = k
        self.let_uses = []  # per rule: indexes of the lets it reads, directly or not
        self.limits = []  # per rule: (signal, staleness limit) of its inputs
        self.input_limits = []  # every (signal, staleness limit) of the rules, once
        # Per rule, what its step reads every tick, in one tuple (with its `for`
        # timer slots and the evaluator methods for its `when` and `until`).
        self.plans = []
        for i, r in enumerate(self.rules):
            limits = []
            for name in r.inputs:
                limit = r.stale_after
                if limit is None:
                    limit = max_ages.get(name, max_ages.get(name.split(".")[0], default_max_age))
                pair = (name, limit)
                for known in self.input_limits:
                    if known == pair:
                        pair = known  # one tuple for every rule that reads it: a board's heap is small
                        break
                else:
                    self.input_limits.append(pair)
                limits.append(pair)
            self.limits.append(tuple(limits))
            self.let_uses.append(tuple(_lets_read(r, self.lets, let_index)))  # most are (), which is shared
            split = r.timers if r.until is None else r.until_first  # the timers from here on are `until`'s
            until_method = None if r.until is None else method_for(r.until)
            plan = (i, r, self.states[i], r.when, r.until, r.during, tuple(range(split)), tuple(range(split, r.timers)), method_for(r.when), until_method)
            self.plans.append(plan)
        # Every input was fresh, and stays so until fresh_until unless the
        # signals' setbacks count moves (see Signals and _all_fresh).
        self.fresh_setbacks = None
        self.fresh_until = 0
        self.written = {}  # target -> value the device should hold now
        self.last_value = {}  # target -> value of its last change
        self.changed_at = {}  # target -> time of its last change
        self.retry_at = {}  # target -> no new attempt before this time
        self.held = {}  # target -> value waiting for its hold to pass
        # target -> [time, rule name, reason, value, winner's order]: the decision
        # behind the value the rules want for it now (one per target, no history).
        self.decisions = {}
        self.tod = None  # the time of day at ``now``, to say when a decision was made
        self.value_faults = {}  # target -> error text, to log once
        self.events = []  # (t, source, text): the decision log
        self.now = None
        self.started = None  # the first tick's time: inputs warm up from here
        self.warming = 0  # how many rules wait for an input's first value
        # Counters a state file watches (site/state): ``revision`` moves with every
        # change worth saving (a rule's state, a write, a failed write), and
        # ``target_revision`` with those that concern a device's setting.
        self.revision = 0
        self.target_revision = 0
        # True when the last arbitration found every target already holding its
        # value as written in the rule; until a rule changes state or a write
        # is undone, the next one would find the same, so it is skipped.
        self.settled = False

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
                self.settled = False
                self.target_revision += 1

    def write_failed(self, target, now, retry_after=30):
        """The write of ``target`` did not reach the device: try again after ``retry_after`` s."""
        self.written.pop(target, None)
        self.retry_at[target] = now + retry_after
        self.settled = False
        self.target_revision += 1
        self.revision += 1

    def reported(self, target, value):
        """The device says it holds ``value`` for ``target`` (read back from it):
        the engine writes only if its rules want something else.  If they want
        that value and no change of the target is known (no state file), the
        first decision counts as a change for `hold`, as a first write would."""
        written = self.written.get(target, _UNSET)
        if target in self.hold and (written is _UNSET or not units.same_value(written, value)):
            self.written[target] = value
            self.settled = False
            self.target_revision += 1

    # --- the tick -----------------------------------------------------------

    def tick(self, now, tod=None):
        """Evaluate everything at time ``now`` and return the list of Changes to write.

        ``tod`` is the local time of day in seconds after midnight, or None when
        the clock is not set (rules with `during` then stay off).
        """
        self.now = now
        self.tod = tod
        if self.started is None:
            self.started = now
        ev = self.evaluator
        ev.now = now
        ev.tod = tod
        if self.signals.forecasts:
            self.signals.ahead(now)
        if self.lets:
            self._update_lets(now)
        fresh = self._all_fresh(now)
        # Each rule's step, written out here: a day of 1-s samples is 86,400 ticks.
        for plan in self.plans:
            i, r, st, when, until, during, when_slots, until_slots, when_method, until_method = plan
            timers = ev.timers = st.timers
            # Unless every input is known to be fresh, a quick look for a fault;
            # _fault finds the first one and words it.
            fault = None if fresh else self._quick_fault(i, now)
            state = st.state
            if fault is None:
                try:
                    w = when_method(ev, when)  # ev.condition(when), written out
                    if w is not True and w is not False and w is not None:
                        need_truth(when, w)
                    u = None
                    if state >= ACTIVE and until is not None:
                        u = until_method(ev, until)
                        if u is not True and u is not False and u is not None:
                            need_truth(until, u)
                except EvalError as e:
                    fault = ("error", "error: %s" % e)
            if fault is not None:
                if fault[1] is None:
                    self._warm(i, st, fault[0])
                else:
                    self._go_safe(i, fault)
                continue
            if st.warming:
                self._warmed(st)
            if st.safe:
                st.safe = False
                st.fault = None
                self._log(r.name, "inputs fresh again")
                st.reason = ev.explain(when, w)
                st.reason_at = now
            # The state the rule moves to, and why: a node explained as `truth`,
            # or None for "outside its windows".  Most ticks it stays put.
            # Whether it is inside its windows is asked only where it matters.
            truth = None
            if state <= PENDING_ON:
                if w is True and (during is None or (tod is not None and in_windows(during, tod))):
                    for s in until_slots:
                        timers[s] = None
                    new, why, truth = ACTIVE, when, True
                elif w is True:
                    new, why = INACTIVE, None
                else:
                    new = INACTIVE
                    for s in when_slots:  # a `for` timer of `when` is running
                        if timers[s] is not None:
                            new = PENDING_ON
                            break
                    why, truth = when, w
            elif during is not None and (tod is None or not in_windows(during, tod)):
                new, why = INACTIVE, None
            elif until is not None:
                if u is True:
                    new, why, truth = INACTIVE, until, True
                else:
                    new = ACTIVE
                    for s in until_slots:  # a `for` timer of `until` is running
                        if timers[s] is not None:
                            new = PENDING_OFF
                            break
                    why, truth = until, u
            elif w is not True:
                new, why, truth = INACTIVE, when, w
            else:
                continue
            if state != new or st.since is None:
                if new == PENDING_ON:
                    why = self._waiting(when, timers, w)
                self._set(i, new, self._outside(r, tod) if why is None else why, truth)
        changes = []
        if not self.settled:
            settled = True
            arbitrate = self._arbitrate
            for target in self.targets:
                if not arbitrate(target, now, changes):
                    settled = False
            self.settled = settled
        return changes

    def _log(self, source, text):
        self.events.append((self.now, source, text))

    def _update_lets(self, now):
        ev = self.evaluator
        let_timers = self.let_timers
        for i, let in enumerate(self.lets):
            ev.timers = let_timers[i]
            try:
                value = ev.value(let.expr)
                self.let_faults[i] = None
            except EvalError as e:
                value = None
                if self.let_faults[i] != str(e):
                    self.let_faults[i] = str(e)
                    self._log(let.name, "cannot compute: %s" % e)
            self.signals.update(let.name, value, now)

    def _all_fresh(self, now):
        """True if no let is in error and every input of every rule is fresh:
        then no rule has a fault, and none needs to look for one."""
        for fault in self.let_faults:
            if fault is not None:
                return False
        signals = self.signals
        if self.fresh_setbacks == signals.setbacks and now < self.fresh_until:
            return True  # as last found: since then, samples only came later
        values = signals.values
        times = signals.times
        soonest = _NEVER
        for name, limit in self.input_limits:
            t = times.get(name)
            if t is None or values.get(name) is None:
                return False
            t += limit
            if now >= t:
                return False
            if t < soonest:
                soonest = t
        self.fresh_setbacks = signals.setbacks
        self.fresh_until = soonest
        return True

    def _quick_fault(self, i, now):
        """None if rule ``i`` has no fault, else what _fault says."""
        let_faults = self.let_faults
        for k in self.let_uses[i]:
            if let_faults[k] is not None:
                return self._fault(i, now)
        values = self.signals.values
        times = self.signals.times
        for name, limit in self.limits[i]:
            t = times.get(name)
            if t is None or now >= t + limit or values.get(name) is None:
                return self._fault(i, now)
        return None

    def _fault(self, i, now):
        let_faults = self.let_faults
        for k in self.let_uses[i]:
            if let_faults[k] is not None:
                return self.lets[k].name, "error: %s (in let %s)" % (let_faults[k], self.lets[k].name)
        values = self.signals.values
        times = self.signals.times
        for name, limit in self.limits[i]:
            t = times.get(name)
            if t is None and now < self.started + limit:
                return name, None  # warming up: it has had no value since the start
            if t is None or values.get(name) is None:
                fc = self.signals.forecasts.get(name)
                if fc is not None:
                    return name, _no_slot(name, fc, now)
                return name, "stale: %s has no value yet" % name
            if now >= t + limit:
                return name, "stale: %s is %s old (limit %s)" % (name, units.format_duration(now - t), units.format_duration(limit))
        return None

    def _warm(self, i, st, name):
        """Rule ``i`` waits for the first value of ``name``: no change, no write."""
        if not st.warming:
            st.warming = True
            self.warming += 1
            self.settled = False
            limit = 0
            for pair in self.limits[i]:
                if pair[0] == name:
                    limit = pair[1]
            self._log(
                self.rules[i].name, "warming up: waits for the first value of %s (its safe branch if none within %s)" % (name, units.format_duration(limit))
            )

    def _warmed(self, st):
        st.warming = False
        self.warming -= 1
        self.settled = False

    def _waiting(self, when, timers, truth):
        """Why a rule waits to turn on: each `for` of its `when` whose timer runs
        ('surplus 3.3 kW > 2.5 kW for only 0s of 5m'), and each other part of an
        `and` that keeps it off ('; emsesp.boiler.dhw.curtemp 60 °C >= 55 °C')."""
        parts = []
        self._waiting_parts(when, timers, parts)
        return "; ".join(parts) if parts else self.evaluator.explain(when, truth)

    def _waiting_parts(self, node, timers, parts):
        ev = self.evaluator
        if node[0] == nodes.AND:
            self._waiting_parts(node[1], timers, parts)
            self._waiting_parts(node[2], timers, parts)
        elif node[0] == nodes.FOR and timers[node[3]] is not None:
            # Counting, or done counting while another part is false.
            parts.append(ev.explain(node, ev.now >= timers[node[3]] + node[2]))
        else:
            # Evaluated again in the same tick: the same value, the same timers.
            value = ev.value(node)
            if value is not True:
                parts.append(ev.explain(node, value))

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
        self.settled = False
        self.revision += 1
        st.state = state
        st.since = self.now
        st.reason = why
        if st.reason_at is not None:
            st.reason_at = None

    def _go_safe(self, i, fault):
        st = self.states[i]
        for s in range(len(st.timers)):
            st.timers[s] = None
        if st.warming:
            self._warmed(st)
        if st.safe and st.fault == fault[0] and st.state == INACTIVE:
            return
        st.safe = True
        st.fault = fault[0]
        if st.state == INACTIVE and st.since is not None:
            # Already off: the state does not change, but the log must say why it is now safe.
            self._log(self.rules[i].name, "safe: " + fault[1])
            st.reason = fault[1]
            st.reason_at = self.now
        else:
            self._set(i, INACTIVE, fault[1])

    def _outside(self, r, tod):
        if tod is None:
            return "time of day unknown (clock not set); during %s" % _windows_text(r.during)
        return "outside %s (now %s)" % (_windows_text(r.during), units.format_clock(tod))

    def _arbitrate(self, target, now, changes):
        """Offer ``target`` the winning rule's value; True if that is a value as
        written in the rule and the device already holds it (nothing to do)."""
        entries = self.writers[target]
        if self.warming:
            for entry in entries:
                if self.states[entry[0].order].warming:
                    return False  # a rule that sets it waits for its inputs: no write yet
        chosen = None
        for entry in entries:
            if entry[1] is not None and self.states[entry[0].order].state >= ACTIVE:
                chosen = entry[0], entry[1], "then"
                break
        if chosen is None:
            for entry in entries:
                if entry[2] is not None:
                    chosen = entry[0], entry[2], "else"
                    break
        if chosen is None:
            return True
        rule, node, branch = chosen
        st = self.states[rule.order]
        literal = node[0] <= nodes.BOOL  # NUM, STR, BOOL: a value as written
        if literal:
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
        if self.value_faults:
            self.value_faults.pop(target, None)
        decision = self.decisions.get(target)
        if decision is None or not units.same_value(decision[3], value):
            self._decide(target, value, rule, st, branch, decision)
        elif decision[4] != rule.order:
            decision[4] = rule.order  # the same value from another rule: not a new decision
        written = self.written.get(target, _UNSET)
        if written is not _UNSET and units.same_value(written, value):
            if self.held:
                self.held.pop(target, None)
            if target not in self.changed_at:
                # The device reported what the rules want: the first decision, as if written.
                self.last_value[target] = value
                self.changed_at[target] = now
                self.revision += 1
                self.target_revision += 1
            return literal
        self._offer(target, value, rule, st, now, changes)
        return False

    def _decide(self, target, value, rule, st, branch, before):
        """Record why ``target`` now wants ``value`` from ``rule``'s ``branch``.
        If another rule gave it its last value and changed state after ``rule``
        did (a rule with priority turned off), that change is the cause."""
        cause, why = rule, st
        if before is not None and before[4] != rule.order:
            other = self.states[before[4]]
            if other.since is not None and st.since is not None and other.since > st.since:
                cause, why = self.rules[before[4]], other
        reason = why.reason
        if cause is not rule:
            reason += "; %s's %s applies" % (rule.name, branch)
        at = why.reason_at
        if at is None:
            at = self.now if why.since is None else why.since
        self.decisions[target] = [at, cause.name, reason, value, rule.order]

    def _clock(self, t):
        """When time ``t`` was, in words: 'HH:MM', or how long ago without a clock."""
        if self.tod is None:
            return units.format_duration(self.now - t) + " ago"
        return units.format_clock((self.tod - (self.now - t)) % 86400)

    def _value_fault(self, target, text):
        if self.value_faults.get(target) != text:
            self.value_faults[target] = text
            self._log(target, "not written: " + text)

    def _offer(self, target, value, rule, st, now, changes):
        """Write ``value`` to ``target`` (it differs from what the device holds)
        unless a hold or a failed write's pause says wait."""
        retry = self.retry_at.get(target)
        if retry is not None and now < retry:
            return
        last = self.last_value.get(target, _UNSET)
        is_change = last is _UNSET or not units.same_value(last, value)
        changed = self.changed_at.get(target)
        hold = self.hold[target]
        decided, cause, reason = self.decisions[target][:3]
        if is_change and hold and changed is not None and not st.safe:
            if now < changed + hold:
                if target not in self.held or not units.same_value(self.held[target], value):
                    self.held[target] = value
                    wait = units.format_duration(changed + hold - now)
                    self._log(target, "%s wants %s; held for %s more (hold %s)" % (cause, units.format_value(value), wait, units.format_duration(hold)))
                return
            if target in self.held and decided != now:
                # Written when the hold ends: the reason is the decision's, then
                # (a decision made just as the hold ends was held by nothing).
                held = "; held by hold %s until %s" % (units.format_duration(hold), "now" if self.tod is None else self._clock(now))
                reason = "decided %s: %s%s" % (self._clock(decided), reason, held)
                decided = None
        if decided is None:
            decided = self.decisions[target][0]
        elif decided != now:
            reason = "decided %s: %s" % (self._clock(decided), reason)
        self.held.pop(target, None)
        self.retry_at.pop(target, None)
        if is_change:
            self.last_value[target] = value
            self.changed_at[target] = now
        self.written[target] = value
        self.revision += 1
        self.target_revision += 1
        changes.append(Change(now, target, value, cause, reason, decided))

    # --- for a status display ----------------------------------------------

    def status(self):
        """[(rule name, state name, reason)] for every rule, for a status display."""
        return [(r.name, STATE_NAMES[self.states[i].state], self.states[i].reason) for i, r in enumerate(self.rules)]


def _no_slot(name, fc, now):
    """Why a forecast has no value now: it has no slot that holds now."""
    last = fc.last()
    if last is not None and last <= now:
        return "stale: %s has no slot for now (its forecast ended %s ago)" % (name, units.format_duration(now - last))
    if len(fc) and fc.first() > now:
        return "stale: %s has no slot for now (its forecast begins in %s)" % (name, units.format_duration(fc.first() - now))
    return "stale: %s has no slot for now" % name


def _extremes(node, out):
    """Add to ``out`` every name whose min() or max() ``node`` asks for."""
    if node[0] == nodes.WINDOW and node[1] != "avg" and node[2] not in out:
        out.append(node[2])
    for child in nodes.children(node):
        _extremes(child, out)


def _lets_read(rule, lets, let_index):
    """Indexes of the lets ``rule`` reads, directly or through other lets."""
    found = []
    todo = []
    for node in rule.exprs():
        nodes.names(node, todo)
    while todo:
        k = let_index.get(todo.pop())
        if k is not None and k not in found:
            found.append(k)
            nodes.names(lets[k].expr, todo)
    return found
