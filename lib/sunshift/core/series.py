"""Windowed history of one signal: time-weighted average, minimum and maximum.

A value holds from its sample until the next one (a step), so ``avg(x, 1m)`` is
the area under that step line over the last minute divided by the time covered,
whatever the sample rate.  Before a minute of history exists, the window covers
what there is.

Memory is bounded: the history is at most SEGMENTS segments in preallocated
float arrays (12 bytes a segment on a board, 20 where min() or max() asks for
the signal).  A segment closes when a sample
arrives at least ``window / (SEGMENTS - 2)`` after it opened; faster samples are
folded into the open segment (keeping its exact area, minimum and maximum).  So
with samples no faster than that spacing every sample is its own segment and the
figures are exact; with faster ones only the oldest segment, the one the window
cuts through, is approximated as flat.  For a 1-minute window the spacing is
under a second.

An average is read every tick, often twice, so it does not add up the 60-odd
segments of a minute of 1-s samples each time.  Now and then (when the window's
old edge passes the mark) the series adds up the areas of the segments it holds,
newest first, keeping each partial sum: the area from that segment to the mark.
Segments closed since the mark are added to a second sum as they close.  The
window's area is then a kept partial sum plus that second sum plus the piece of
the segment the window's edge cuts.  Nothing is ever taken off a sum, so a
segment that left the window leaves no rounding behind (a minute of zeros
averages exactly zero) and rounding cannot pile up, even in 32-bit floats.
"""

from array import array

from ..port import FLOAT_TYPECODE, const

SEGMENTS = const(64)
# Segment start times are stored relative to a base time; rebasing before they
# grow past 2**20 s keeps them exact even in 32-bit floats.
_REBASE_AFTER = const(1 << 20)


class Series:
    """Bounded history of a numeric signal for windows up to ``window`` seconds."""

    def __init__(self, window, segments=SEGMENTS, extremes=True):
        self.window = window
        self.spacing = window / (segments - 2)
        self.size = segments
        zeros = [0.0] * segments
        self.starts = array(FLOAT_TYPECODE, zeros)
        self.means = array(FLOAT_TYPECODE, zeros)
        self.sums = array(FLOAT_TYPECODE, zeros)  # area from each segment up to the mark
        # Segment minima and maxima, kept only if min() or max() will ask.
        self.lows = array(FLOAT_TYPECODE, zeros) if extremes else None
        self.highs = array(FLOAT_TYPECODE, zeros) if extremes else None
        self.first = 0  # index of the oldest closed segment
        self.count = 0  # closed segments held
        self.base = 0
        self.closes = 0  # segments closed so far; the next one is number `closes`
        self.mark = 0  # segments from this number on are in `recent`, not in `sums`
        self.recent = 0.0  # their area
        # The last average asked for: rules often ask the same one twice a tick.
        self.asked_at = None
        self.asked_window = 0
        self.answer = None
        # The open segment: from open_at, with `area` up to the last sample,
        # whose value `last` holds from last_at until now.
        self.open_at = None
        self.area = 0.0
        self.last_at = 0
        self.last = 0.0
        self.low = 0.0
        self.high = 0.0

    def add(self, t, value):
        """Record a sample; samples must come in time order (older ones are ignored)."""
        self.asked_at = None
        open_at = self.open_at
        if open_at is None:
            self.base = t
            self._open(t, value)
            return
        last_at = self.last_at
        if t < last_at:
            return
        self.area += self.last * (t - last_at)
        if t - open_at >= self.spacing:
            self._close(t)
            self.open_at = self.last_at = t
            self.area = 0.0
            self.last = self.low = self.high = value
            return
        self.last_at = t
        self.last = value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value

    def _open(self, t, value):
        # The first segment; add opens the ones after it itself, in place.
        self.open_at = t
        self.area = 0.0
        self.last_at = t
        self.last = value
        self.low = value
        self.high = value

    def _close(self, t):
        open_at = self.open_at
        if t - self.base > _REBASE_AFTER:
            self._rebase(open_at)
        size = self.size
        starts = self.starts
        first = self.first
        count = self.count
        # Drop the oldest segment while the ring is full or no window can reach
        # it any more (it ended a whole window before t).
        gone = t - self.window - self.base
        while count:
            after = first + 1
            if after == size:
                after = 0
            if count < size and (starts[after] if count > 1 else open_at - self.base) > gone:
                break
            first = after
            count -= 1
        self.first = first
        i = (first + count) % size
        starts[i] = open_at - self.base
        self.means[i] = self.area / (t - open_at)
        if self.lows is not None:
            self.lows[i] = self.low
            self.highs[i] = self.high
        self.count = count + 1
        self.closes += 1
        self.recent += self.area

    def _area_from(self, number, i):
        """Area of the closed segments from segment ``number`` (at index ``i``) to the newest."""
        if number >= self.closes:
            return 0.0
        if number > self.mark:
            self._sum_up()
        if number == self.mark:
            return self.recent
        return self.sums[i] + self.recent

    def _sum_up(self):
        """Add up the held segments' areas afresh, newest first, keeping each
        partial sum; the mark moves past the newest."""
        starts = self.starts
        means = self.means
        sums = self.sums
        total = 0.0
        end = self.open_at - self.base
        k = (self.first + self.count - 1) % self.size
        for _ in range(self.count):
            start = starts[k]
            total += means[k] * (end - start)
            sums[k] = total
            end = start
            k = k - 1 if k else self.size - 1
        self.mark = self.closes
        self.recent = 0.0

    def _rebase(self, new_base):
        shift = new_base - self.base
        for k in range(self.count):
            i = (self.first + k) % self.size
            self.starts[i] -= shift
        self.base = new_base

    def average(self, now, window):
        """Time-weighted mean over the last ``window`` seconds, or None with no samples."""
        if now == self.asked_at and window == self.asked_window:
            return self.answer
        end = self.open_at
        if end is None:
            return None
        lo = now - window
        # The latest value holds from its sample until now.
        last_at = self.last_at
        begin = last_at if last_at > lo else lo
        total = self.last * (now - begin)
        covered = now - begin
        if last_at > end and last_at > lo:
            begin = end if end > lo else lo
            total += self.area / (last_at - end) * (last_at - begin)
            covered += last_at - begin
        count = self.count
        if count == 0 or end <= lo:
            pass
        else:
            starts = self.starts
            means = self.means
            base = self.base
            size = self.size
            i = self.first
            start = starts[i] + base
            if start >= lo:
                # The window holds every closed segment.
                total += self._area_from(self.closes - count, i)
                covered += end - start
            elif 2 * (end - lo) > end - start:
                # It holds most: find the segment lo cuts, from the old end;
                # the ones after it are in the sums.
                number = self.closes - count
                after = end
                for _ in range(count - 1):
                    j = i + 1
                    if j == size:
                        j = 0
                    after = starts[j] + base
                    if after > lo:
                        break
                    i = j
                    start = after
                    number += 1
                else:
                    after = end  # the newest, which ends at open_at
                j = i + 1
                total += self._area_from(number + 1, 0 if j == size else j) + means[i] * (after - lo)
                covered += end - lo
            else:
                # It holds the newest few: add them, newest first.
                k = count - 1
                while k >= 0 and end > lo:
                    i = (self.first + k) % size
                    start = starts[i] + base
                    begin = start if start > lo else lo
                    total += means[i] * (end - begin)
                    covered += end - begin
                    end = start
                    k -= 1
        answer = self.last if covered <= 0 else total / covered
        self.asked_at = now
        self.asked_window = window
        self.answer = answer
        return answer

    def extreme(self, now, window, highest):
        """Largest (``highest``) or smallest value in the last ``window`` seconds."""
        if self.open_at is None:
            return None
        lo = now - window
        best = self.last
        values = self.highs if highest else self.lows
        if self.last_at > self.open_at and self.last_at > lo:
            value = self.high if highest else self.low
            if (value > best) if highest else (value < best):
                best = value
        end = self.open_at
        k = self.count - 1
        while k >= 0 and end > lo:
            i = (self.first + k) % self.size
            value = values[i]
            if (value > best) if highest else (value < best):
                best = value
            end = self.starts[i] + self.base
            k -= 1
        return best
