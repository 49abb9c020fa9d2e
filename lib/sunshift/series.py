"""Windowed history of one signal: time-weighted average, minimum and maximum.

A value holds from its sample until the next one (a step), so ``avg(x, 1m)`` is
the area under that step line over the last minute divided by the time covered,
whatever the sample rate.  Before a minute of history exists, the window covers
what there is.

Memory is bounded: the history is at most SEGMENTS segments in preallocated
float arrays (16 bytes a segment on a board).  A segment closes when a sample
arrives at least ``window / (SEGMENTS - 2)`` after it opened; faster samples are
folded into the open segment (keeping its exact area, minimum and maximum).  So
with samples no faster than that spacing every sample is its own segment and the
figures are exact; with faster ones only the oldest segment, the one the window
cuts through, is approximated as flat.  For a 1-minute window the spacing is
under a second.
"""

from array import array

from .port import FLOAT_TYPECODE, const

SEGMENTS = const(64)
# Segment start times are stored relative to a base time; rebasing before they
# grow past 2**20 s keeps them exact even in 32-bit floats.
_REBASE_AFTER = const(1 << 20)


class Series:
    """Bounded history of a numeric signal for windows up to ``window`` seconds."""

    def __init__(self, window, segments=SEGMENTS):
        self.window = window
        self.spacing = window / (segments - 2)
        self.size = segments
        zeros = [0.0] * segments
        self.starts = array(FLOAT_TYPECODE, zeros)
        self.means = array(FLOAT_TYPECODE, zeros)
        self.lows = array(FLOAT_TYPECODE, zeros)
        self.highs = array(FLOAT_TYPECODE, zeros)
        self.first = 0  # index of the oldest closed segment
        self.count = 0  # closed segments held
        self.base = 0
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
        if self.open_at is None:
            self.base = t
            self._open(t, value)
            return
        if t < self.last_at:
            return
        self.area += self.last * (t - self.last_at)
        if t - self.open_at >= self.spacing:
            self._close(t)
            self._open(t, value)
            return
        self.last_at = t
        self.last = value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value

    def _open(self, t, value):
        self.open_at = t
        self.area = 0.0
        self.last_at = t
        self.last = value
        self.low = value
        self.high = value

    def _close(self, t):
        if t - self.base > _REBASE_AFTER:
            self._rebase(self.open_at)
        if self.count == self.size:
            self.first = (self.first + 1) % self.size
            self.count -= 1
        i = (self.first + self.count) % self.size
        self.starts[i] = self.open_at - self.base
        self.means[i] = self.area / (t - self.open_at)
        self.lows[i] = self.low
        self.highs[i] = self.high
        self.count += 1

    def _rebase(self, new_base):
        shift = new_base - self.base
        for k in range(self.count):
            i = (self.first + k) % self.size
            self.starts[i] -= shift
        self.base = new_base

    def average(self, now, window):
        """Time-weighted mean over the last ``window`` seconds, or None with no samples."""
        if self.open_at is None:
            return None
        lo = now - window
        # The latest value holds from its sample until now.
        begin = self.last_at if self.last_at > lo else lo
        total = self.last * (now - begin)
        covered = now - begin
        if self.last_at > self.open_at and self.last_at > lo:
            begin = self.open_at if self.open_at > lo else lo
            total += self.area / (self.last_at - self.open_at) * (self.last_at - begin)
            covered += self.last_at - begin
        # Closed segments, newest first, until the window's edge.
        end = self.open_at
        k = self.count - 1
        while k >= 0 and end > lo:
            i = (self.first + k) % self.size
            start = self.starts[i] + self.base
            begin = start if start > lo else lo
            total += self.means[i] * (end - begin)
            covered += end - begin
            end = start
            k -= 1
        if covered <= 0:
            return self.last
        return total / covered

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
