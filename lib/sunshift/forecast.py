"""Forecasts: what a device says lies ahead, in slots (prices, CO2, solar power),
and the questions rules ask of them.

A forecast is a signal whose value is a :class:`Forecast`: slots with a start,
an end (in the engine's seconds, like every sample time) and a value.  Its
plain value in a rule is the value of the slot that holds now
(``evcc.tariff.grid > 0.3``); the forecast functions of the language
(lang/syntax.py) look ahead in it:

* ``avg``, ``min``, ``max`` over a span ahead, ``energy`` (a power forecast
  summed over time: Wh), ``percentile`` (how much of the span is cheaper than
  now, in %);
* ``cheapest(f, 3h, span)``: true while now lies in the cheapest slots of the
  span that add up to 3 h (not necessarily one after the other);
  ``cheapest_block`` wants them in one piece.

A span is ``next 3h`` (from now for three hours), ``before 07:00`` (from now
until the next 07:00) or ``22:00-07:00`` (the window's occurrence that holds
now, or else the next one).  ``cheapest`` looks at the whole window, the part
already past too, so its choice does not drift as the night goes on:
``before 07:00`` is then the 24 hours that end at 07:00.

Slots are kept in arrays: two days of 15-minute prices are 192 slots, 12 bytes
each on a board.
"""

from array import array

from . import jsonpick
from .port import FLOAT_TYPECODE, const
from .text import unix_of

DAY = const(86400)
# The most slots one forecast keeps (a board's room): three days of 15 minutes.
MAX_SLOTS = const(288)
# How far back slots already past are kept, for `cheapest` over a whole window.
KEEP_PAST = const(86400)


class Forecast:
    """Slots sorted by start, not overlapping: ``starts`` and ``ends`` in whole
    seconds of the engine's clock, ``values`` numbers."""

    def __init__(self, starts, ends, values):
        self.starts = starts
        self.ends = ends
        self.values = values
        self.cursor = 0  # the slot index() found last: time mostly stays in it or moves to the next

    def __len__(self):
        return len(self.starts)

    def index(self, t):
        """The index of the slot that holds time ``t``, or -1."""
        starts = self.starts
        ends = self.ends
        k = self.cursor
        n = len(starts)
        if k < n and starts[k] <= t < ends[k]:
            return k  # every tick of a slot asks this again
        if k + 1 < n and starts[k + 1] <= t < ends[k + 1]:
            self.cursor = k + 1
            return k + 1
        k = _after(starts, t) - 1
        if k >= 0 and t < ends[k]:
            self.cursor = k
            return k
        return -1

    def at(self, t):
        """The value of the slot that holds ``t``, or None."""
        k = self.index(t)
        return None if k < 0 else self.values[k]

    def first(self):
        """When the first slot starts (None if there is none)."""
        return self.starts[0] if len(self.starts) else None

    def last(self):
        """When the last slot ends (None if there is none)."""
        return self.ends[-1] if len(self.ends) else None

    def overlaps(self, a, b):
        """[(index, seconds of the slot within [a, b))] for the slots that overlap it."""
        out = []
        starts, ends = self.starts, self.ends
        # From the first slot that ends after a (ends are sorted, as starts are).
        for k in range(_after(ends, a), len(starts)):
            s, e = starts[k], ends[k]
            if s >= b:
                break
            out.append((k, min(e, b) - max(s, a)))
        return out

    def same(self, other):
        """True if ``other`` is a Forecast with the same slots."""
        return isinstance(other, Forecast) and self.starts == other.starts and self.ends == other.ends and self.values == other.values


def _after(times, t):
    """How many of the sorted ``times`` are at or before ``t`` (a binary search)."""
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo


class Builder:
    """Slots added one at a time (in order, as devices send them) into arrays,
    without a list of them in between: a board reads a day of prices this way."""

    def __init__(self):
        self.starts = array("i")
        self.ends = array("i")
        self.values = array(FLOAT_TYPECODE)
        self.skipped = 0  # slots left out: no length, no number, overlapping, beyond MAX_SLOTS

    def add(self, start, end, value):
        """One slot; left out (and counted) when it has no length, its value is not a
        finite number, it begins before the last one ends, or there are MAX_SLOTS."""
        if type(value) is bool or not isinstance(value, (int, float)) or value - value != 0 or start is None or end is None:
            self.skipped += 1
            return
        start, end = int(start), int(end)
        ends = self.ends
        if end <= start or (len(ends) and start < ends[-1]) or len(ends) >= MAX_SLOTS:
            self.skipped += 1
            return
        self.starts.append(start)
        ends.append(end)
        self.values.append(value)

    def forecast(self):
        """The Forecast of the slots added."""
        return Forecast(self.starts, self.ends, self.values)


def build(slots):
    """A Forecast from (start, end, value) slots in order (see Builder.add)."""
    b = Builder()
    for s, e, v in slots:
        b.add(s, e, v)
    return b.forecast()


def shifted(fc, delta):
    """A copy of ``fc`` with every slot moved by ``delta`` whole seconds (from
    Unix time to the engine's clock)."""
    delta = int(delta)
    starts, ends = array("i"), array("i")
    for k in range(len(fc.starts)):
        starts.append(fc.starts[k] + delta)
        ends.append(fc.ends[k] + delta)
    return Forecast(starts, ends, fc.values)


def with_past(new, earlier, now):
    """``new`` with the slots of ``earlier`` (the forecast it replaces) that ended
    less than a day before ``now`` and before ``new`` begins: a window's past
    stays known to `cheapest` when the device sends only what lies ahead."""
    if earlier is None or not len(earlier):
        return new
    cut = new.first()
    b = Builder()
    for k in range(len(earlier)):
        s, e = earlier.starts[k], earlier.ends[k]
        if e > now - KEEP_PAST and (cut is None or e <= cut):
            b.add(s, e, earlier.values[k])
    if not len(b.starts):
        return new
    room = MAX_SLOTS - len(new)
    if len(b.starts) > room:  # the most recent past, as much as fits
        drop = len(b.starts) - max(room, 0)
        b.starts, b.ends, b.values = b.starts[drop:], b.ends[drop:], b.values[drop:]
    for k in range(len(new)):
        b.add(new.starts[k], new.ends[k], new.values[k])
    return b.forecast()


def add_rate(builder, item):
    """One of evcc's rate slots into ``builder``: {"start", "end", "value"} (before
    evcc 0.203: "price"), times in RFC 3339; or [start, end, value] in Unix seconds."""
    if isinstance(item, dict):
        value = item.get("value")
        if value is None:
            value = item.get("price")
        builder.add(unix_of(item.get("start")), unix_of(item.get("end")), value)
    elif isinstance(item, list) and len(item) == 3:
        builder.add(item[0] if isinstance(item[0], int) else None, item[1] if isinstance(item[1], int) else None, item[2])
    else:
        builder.skipped += 1


def until_clock(clock, tod):
    """Seconds from the time of day ``tod`` until the next ``clock`` (1 s to a day)."""
    return (clock - tod - 1) % DAY + 1


def span(kind, a, b, now, tod, whole):
    """(start, end) in engine seconds of a span: ("next", seconds), ("before",
    clock) or ("between", clock, clock).  ``whole``: the whole window, the part
    already past too (for `cheapest`); else from now on.  None when the span
    needs the time of day and the clock is not set."""
    if kind == "next":
        return now, now + a
    if tod is None:
        return None
    if kind == "before":
        end = now + until_clock(a, tod)
        return (end - DAY if whole else now), end
    length = (b - a) % DAY
    since = (tod - a) % DAY
    if since < length:  # inside the window now
        start = now - since
    else:
        start = now + until_clock(a, tod)
    end = start + length
    return (start if whole else max(start, now)), end


def mean(fc, a, b):
    """The time-weighted average of the slots in [a, b), or None if none is known."""
    total = 0
    weight = 0
    values = fc.values
    for k, seconds in fc.overlaps(a, b):
        total += values[k] * seconds
        weight += seconds
    return total / weight if weight else None


def extreme(fc, a, b, highest):
    """The lowest (or highest) slot value in [a, b), or None."""
    found = None
    values = fc.values
    for k, _ in fc.overlaps(a, b):
        v = values[k]
        if found is None or (v > found if highest else v < found):
            found = v
    return found


def percentile(fc, a, b, now):
    """How much of [a, b) (in %, by time) is priced below the slot of ``now``: 0 is
    the cheapest there is, 100 the dearest; None if no slot holds now or none is
    known in [a, b)."""
    here = fc.index(now)
    if here < 0:
        return None
    price = fc.values[here]
    below = 0
    total = 0
    values = fc.values
    for k, seconds in fc.overlaps(a, b):
        total += seconds
        if values[k] < price:
            below += seconds
    return 100 * below / total if total else None


def energy(fc, a, b):
    """A power forecast (W) summed over [a, b): Wh, or None if no slot is known."""
    total = 0
    known = False
    values = fc.values
    for k, seconds in fc.overlaps(a, b):
        total += values[k] * seconds / 3600
        known = True
    return total if known else None


def choose(fc, need, a, b):
    """(indexes, cut-off): the cheapest slots of [a, b) that add up to ``need``
    seconds (ties: the earlier first) and the highest price among them."""
    found = fc.overlaps(a, b)
    values = fc.values
    order = sorted(found, key=lambda pair: (values[pair[0]], pair[0]))
    got = 0
    cut = None
    chosen = []
    for k, seconds in order:
        if got >= need:
            break
        got += seconds
        cut = values[k]
        chosen.append(k)
    return chosen, cut


def cheapest(fc, need, a, b, now, memo=None):
    """(chosen, cut-off) for `cheapest`: is the slot that holds ``now`` one of the
    cheapest slots of [a, b) that add up to ``need`` seconds (choose), and the
    highest price among those chosen.  None when no slot holds now; (False,
    None) when now is outside [a, b).  ``memo``, a list, keeps the choice for
    the next call with the same forecast and window (a day has 86,400 ticks)."""
    here = fc.index(now)
    if here < 0:
        return None
    if now < a or now >= b:
        return False, None
    if memo is not None and memo and memo[0] is fc and memo[1] == a and memo[2] == b:
        chosen, cut = memo[3], memo[4]
    else:
        chosen, cut = choose(fc, need, a, b)
        if memo is not None:
            memo[:] = [fc, a, b, chosen, cut]
    return here in chosen, cut


def cheapest_block(fc, need, a, b, now):
    """(chosen, average, begin, end) for `cheapest_block`: does now lie in the
    cheapest run of slots in [a, b) that lasts ``need`` seconds in one piece (the
    earliest of equals), that run's average price, and when it begins and ends.
    None when no slot holds now or the known slots have no such run; (False,
    None, b, b) when now is outside [a, b)."""
    if fc.index(now) < 0:
        return None
    if now < a or now >= b:
        return False, None, b, b
    found = fc.overlaps(a, b)
    starts, ends, values = fc.starts, fc.ends, fc.values
    best = None
    for i in range(len(found)):
        # The run that starts at slot found[i] and lasts ``need``.
        begin = max(starts[found[i][0]], a)
        finish = begin + need
        if finish > b:
            break
        total = 0
        covered = 0
        last = begin
        for k, _ in found[i:]:
            if starts[k] > last:
                break  # a gap: no run from here
            piece = min(ends[k], finish) - max(starts[k], begin)
            total += values[k] * piece
            covered += piece
            last = ends[k]
            if last >= finish:
                break
        if covered < need:
            continue
        price = total / need
        if best is None or price < best[0]:
            best = (price, begin, finish)
    if best is None:
        return None
    return best[1] <= now < best[2], best[0], best[1], best[2]


def from_json(payload):
    """A Forecast in Unix seconds from a JSON list of rate slots (evcc's MQTT
    `site/forecast/<type>`: [{"start", "end", "value"}] or [[start, end, value]]),
    or from a solar time series ([{"ts", "val"}] or [[ts, W]]: each point lasts
    until the next); None if the payload is not such a list."""
    slots = Builder()
    points = []

    def each(item):
        if "ts" in item:
            points.append((unix_of(item.get("ts")), item.get("val")))
        else:
            add_rate(slots, item)

    try:
        rest = jsonpick.loads(payload, None, False, each)
    except jsonpick.JsonError:
        return None
    if not isinstance(rest, list):
        return None
    for item in rest:  # the lists among the slots: [start, end, value] or [ts, W]
        if isinstance(item, list) and len(item) == 2:
            points.append((item[0] if isinstance(item[0], int) else None, item[1]))
        else:
            add_rate(slots, item)
    for k in range(len(points) - 1):
        slots.add(points[k][0], points[k + 1][0], points[k][1])
    if len(points) > 1 and points[-1][0] is not None and points[-2][0] is not None:
        slots.add(points[-1][0], 2 * points[-1][0] - points[-2][0], points[-1][1])
    return slots.forecast()
