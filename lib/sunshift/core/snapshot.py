"""The engine's state as plain data, and back: what makes a restart harmless.

:func:`take` gives what the engine knows that its rules and inputs cannot
tell again at once: each rule's state, how long it has been in it, how far
its `for` timers have run and why; for each target the value the device holds
(as far as the engine knows), the value of its last change and how long ago
that was (for `hold`), and how long a failed write still waits.  The lets'
`for` timers too.  :func:`put` gives it to a new engine.

The engine's clock is monotonic and starts again with every process, so times
are kept as ages at the moment of the snapshot, with the wall-clock time of
that moment.  On restore the time the engine was down is added: a `for`
timer keeps its elapsed time by the wall clock, and starts again if the
engine was down longer than the staleness limit of the rule's inputs (the
data of that gap is unknown); `hold` counts on from the last change.  When
either wall clock is not set (a board before NTP), the downtime is unknown:
timers start again and `hold` counts as if there had been none, the careful
choice both ways.

Rules and lets are matched by name and by a key of their definition (a CRC of
every clause and of the lets they read): an edited rule starts fresh, an
unchanged one carries on, so the same code serves a restart and a reload.
The windows of avg(), min() and max() are not kept: after a restart they
cover what has arrived since (docs/rules.md).  The slots of each forecast
that began in the last day are kept, with their wall-clock times, so that
`cheapest` after a restart still knows the hours of its window already past
(evcc reports its rates from the slot of now on).  The data is versioned;
what does not fit is refused with a ValueError saying why.
"""

import binascii

from .. import port
from .engine import STATE_NAMES

HEAD = "engine state"
FORMAT = 1


def _crc(value, crc=0):
    """A CRC-32 of a definition (nested tuples and lists of texts and numbers),
    walked in place: no copy of it and no JSON text of it is made, since a
    board computes keys at start and at each save, in what heap there is."""
    if isinstance(value, (list, tuple)):
        crc = binascii.crc32(b"[", crc)
        for item in value:
            crc = _crc(item, crc)
        return binascii.crc32(b"]", crc)
    if isinstance(value, str):
        return binascii.crc32(value.encode(), binascii.crc32(b'"', crc))
    return binascii.crc32(repr(value).encode(), binascii.crc32(b"#", crc))


def keys(engine):
    """The key of each rule's and each let's definition: ([rule keys], [let keys]).
    A rule's covers every clause (what Rule.fields() holds) and the lets it reads."""
    let_keys = [_crc((let.expr, let.timers)) for let in engine.lets]
    rule_keys = []
    for i, r in enumerate(engine.rules):
        reads = [let_keys[k] for k in engine.let_uses[i]]
        clauses = (r.when, r.until, r.then, r.otherwise, r.hold, r.during, r.priority, r.stale_after, r.timers, r.until_first, r.inputs)
        rule_keys.append(_crc((clauses, reads)))
    return rule_keys, let_keys


def _ages(timers, now):
    return [None if t is None else now - t for t in timers]


def take(engine, now, wall):
    """The engine's state at engine time ``now`` and wall-clock time ``wall``
    (Unix seconds, or None when the clock is not set), as plain data."""
    rule_keys, let_keys = keys(engine)
    rules = []
    for i, rule in enumerate(engine.rules):
        st = engine.states[i]
        if st.since is None:
            continue  # not yet decided: nothing to keep
        rules.append([rule.name, rule_keys[i], STATE_NAMES[st.state], now - st.since, _ages(st.timers, now), st.reason])
    lets = []
    for k, let in enumerate(engine.lets):
        timers = engine.let_timers[k]
        if timers and any(t is not None for t in timers):
            lets.append([let.name, let_keys[k], _ages(timers, now)])
    targets = []
    for target in engine.targets:
        changed = engine.changed_at.get(target)
        if changed is None and target not in engine.written:
            continue
        entry = {"target": target}
        if target in engine.written:
            entry["written"] = engine.written[target]
        if changed is not None:
            entry["last"] = engine.last_value[target]
            entry["changed"] = now - changed
        retry = engine.retry_at.get(target)
        if retry is not None and retry > now:
            entry["retry"] = retry - now
        targets.append(entry)
    data = {"sunshift": HEAD, "format": FORMAT, "saved": wall, "rules": rules, "lets": lets, "targets": targets}
    if wall is not None and engine.signals.forecasts:
        data["forecasts"] = _past(engine.signals.forecasts, now, wall)
    return data


# How far back a forecast's slots are kept (forecast.KEEP_PAST: that module is
# loaded only where there are forecasts).
KEEP_PAST = 86400


def _past(forecasts, now, wall):
    """{name: [[start, length, [value, ...]], ...]}: the slots of each forecast that
    began in the day before ``now``, as runs of slots of one length one after the
    other (most forecasts are one run), in Unix seconds: few objects for a
    board to read back."""
    out = {}
    for name in forecasts:
        fc = forecasts[name]
        runs = []
        run = None
        for k in range(len(fc)):
            start = fc.starts[k]
            if not now - KEEP_PAST < start <= now:
                continue
            length = fc.ends[k] - start
            at = int(wall - now + start)
            if run is None or run[1] != length or run[0] + length * len(run[2]) != at:
                run = [at, length, []]
                runs.append(run)
            run[2].append(fc.values[k])
        if runs:
            out[name] = runs
    return out


def check(data):
    """Raise ValueError unless ``data`` is a snapshot this code reads."""
    if not isinstance(data, dict) or data.get("sunshift") != HEAD:
        raise ValueError("not a sunshift state file")
    if data.get("format") != FORMAT:
        raise ValueError("state of format %r; this sunshift reads format %d" % (data.get("format"), FORMAT))
    saved = data.get("saved")
    if saved is not None and not isinstance(saved, (int, float)):
        raise ValueError("its time of saving is %r" % (saved,))
    for key in ("rules", "lets", "targets"):
        if not isinstance(data.get(key), list):
            raise ValueError("it has no list of %s" % key)
    for entry in data["rules"]:
        if not (isinstance(entry, list) and len(entry) == 6 and entry[2] in STATE_NAMES and _age(entry[3]) and _timers(entry[4])):
            raise ValueError("a rule entry %s is not one this code wrote" % _short(entry))
    for entry in data["lets"]:
        if not (isinstance(entry, list) and len(entry) == 3 and _timers(entry[2])):
            raise ValueError("a let entry %s is not one this code wrote" % _short(entry))
    for entry in data["targets"]:
        if not (isinstance(entry, dict) and isinstance(entry.get("target"), str)) or not all(_age(entry.get(k, 0)) for k in ("changed", "retry")):
            raise ValueError("a target entry %s is not one this code wrote" % _short(entry))
        if ("changed" in entry) != ("last" in entry):
            raise ValueError("a target entry %s is not one this code wrote" % _short(entry))


def _age(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1e12


def _timers(value):
    return isinstance(value, list) and all(t is None or _age(t) for t in value)


def _short(value):
    text = port.json_dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def downtime(data, wall):
    """Seconds between the snapshot and ``wall``; None when either clock was not set
    (or the wall clock went backwards)."""
    saved = data.get("saved")
    if saved is None or wall is None or wall < saved:
        return None
    return wall - saved


class Restored:
    """What :func:`put` did: rules carried on, rules that start fresh (edited,
    new or gone), timers started again, targets restored, and the downtime."""

    def __init__(self, down):
        self.down = down
        self.kept = []
        self.fresh = []  # in the rules now, but edited or not in the snapshot
        self.gone = []  # in the snapshot, no longer in the rules
        self.timers_restarted = []
        self.targets = 0


def put(engine, data, now, wall):
    """Give a fresh engine (before its first tick) the state of a snapshot
    checked by :func:`check`, at engine time ``now`` and wall-clock time ``wall``.
    Returns a :class:`Restored`."""
    rule_keys, let_keys = keys(engine)
    down = downtime(data, wall)
    lag = down or 0
    done = Restored(down)
    saved = {}
    for entry in data["rules"]:
        saved[entry[0]] = entry
    for i, rule in enumerate(engine.rules):
        entry = saved.pop(rule.name, None)
        if entry is None or entry[1] != rule_keys[i] or len(entry[4]) != len(engine.states[i].timers):
            done.fresh.append(rule.name)
            continue
        st = engine.states[i]
        st.state = STATE_NAMES.index(entry[2])
        st.since = now - entry[3] - lag
        st.reason = entry[5] if isinstance(entry[5], str) else ""
        limit = _shortest(engine.limits[i])
        keep = down is not None and (limit is None or down <= limit)
        for s, age in enumerate(entry[4]):
            if age is None:
                continue
            if keep:
                st.timers[s] = now - age - lag
            elif rule.name not in done.timers_restarted:
                done.timers_restarted.append(rule.name)
        done.kept.append(rule.name)
    done.gone = sorted(saved)
    lets = {}
    for entry in data["lets"]:
        lets[entry[0]] = entry
    for k, let in enumerate(engine.lets):
        entry = lets.get(let.name)
        timers = engine.let_timers[k]
        if entry is None or entry[1] != let_keys[k] or len(entry[2]) != len(timers) or down is None:
            continue
        limit = _shortest([pair for pair in engine.input_limits if pair[0] in let.inputs])
        if limit is not None and down > limit:
            continue
        for s, age in enumerate(entry[2]):
            timers[s] = None if age is None else now - age - down
    for entry in data["targets"]:
        target = entry["target"]
        if target not in engine.hold:
            continue
        if "written" in entry:
            engine.written[target] = entry["written"]
        if "last" in entry:
            engine.last_value[target] = entry["last"]
            engine.changed_at[target] = now - entry["changed"] - lag
        if "retry" in entry and entry["retry"] > lag:
            engine.retry_at[target] = now + entry["retry"] - lag
        done.targets += 1
    forecasts = data.get("forecasts")
    if isinstance(forecasts, dict) and wall is not None:
        for name in forecasts:
            runs = forecasts[name]
            if isinstance(runs, list) and _read_by(engine, name):
                from .. import forecast  # here: only a site with forecasts loads it

                built = forecast.Builder()
                for run in runs:
                    if isinstance(run, list) and len(run) == 3 and _age(run[0]) and _age(run[1]) and isinstance(run[2], list):
                        start = now - (wall - run[0])
                        for value in run[2]:
                            built.add(start, start + run[1], value)
                            start += run[1]
                if len(built.starts):
                    engine.signals.forecasts[name] = built.forecast()
    engine.settled = False
    return done


def _read_by(engine, name):
    """True if a rule or let of ``engine`` reads the signal ``name``."""
    for pair in engine.input_limits:
        if pair[0] == name:
            return True
    for let in engine.lets:
        if name in let.inputs:
            return True
    return False


def _shortest(limits):
    """The shortest staleness limit of a rule's inputs; None for a rule without inputs."""
    shortest = None
    for pair in limits:
        if shortest is None or pair[1] < shortest:
            shortest = pair[1]
    return shortest
