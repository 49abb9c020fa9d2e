"""The chart under the picture of the day (plot.py): its sizes, text made safe
and short, the time-of-day frame, downsampling a day to a pixel column each,
and round scales.  Plain arithmetic and strings, no drawing.
"""

import math

from ..port import const

# --- sizes (px) ------------------------------------------------------------
# The plot area is one pixel column per downsampled point, so WIDTH - LEFT -
# RIGHT also bounds the size of every series' path, whatever its length.

WIDTH = const(1200)
LEFT = const(180)  # lane labels (up to LABEL_CHARS) and y tick labels live here
RIGHT = const(24)
PLOT_WIDTH = const(996)  # WIDTH - LEFT - RIGHT
POWER_HEIGHT = const(240)
PANEL_HEIGHT = const(110)
PANEL_GAP = const(24)
FLAG_HEIGHT = const(12)
RULE_HEIGHT = const(16)
TARGET_HEIGHT = const(22)
LANE_GAP = const(4)
LABEL_CHARS = const(24)  # longer lane names are shortened (the full name is a hover title)
VALUE_CHARS = const(16)  # longer target values are cut in change labels


NUMBER = (int, float)

# --- text ------------------------------------------------------------------


def esc(text):
    """``text`` made safe inside XML text and attribute values.

    Control characters are not allowed in XML 1.0 at all, so they become '?'.
    """
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;").replace("'", "&#39;")
    for c in text:
        if c < " " and c not in "\t\n\r":
            return "".join("?" if (ch < " " and ch not in "\t\n\r") else ch for ch in text)
    return text


def num(x):
    """A coordinate with one decimal and no trailing '.0' (it keeps the file small)."""
    s = "%.1f" % x
    if s.endswith(".0"):
        s = s[:-2]
    return "0" if s == "-0" else s


def trim(x, digits=2):
    """A number for people: at most ``digits`` decimals, no trailing zeros."""
    if x is True or x is False:
        return "true" if x else "false"
    if not isinstance(x, NUMBER):
        return str(x)
    s = ("%." + str(digits) + "f") % x
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def width(text, size):
    """Rough rendered width of ``text`` in a sans-serif font of ``size`` px."""
    return len(text) * size * 0.58


def hhmm(seconds):
    """'HH:MM' of a time of day in seconds."""
    seconds = int(seconds) % 86400
    return "%02d:%02d" % (seconds // 3600, seconds // 60 % 60)


def hhmmss(seconds):
    """'HH:MM:SS' of a time of day in seconds."""
    seconds = int(seconds) % 86400
    return "%02d:%02d:%02d" % (seconds // 3600, seconds // 60 % 60, seconds % 60)


def duration(seconds):
    """A span for people: '14 h 30 min', '45 min', '20 s'."""
    seconds = int(seconds)
    if seconds < 60:
        return "%d s" % seconds
    hours, minutes = seconds // 3600, seconds // 60 % 60
    if not hours:
        return "%d min" % minutes
    return "%d h %d min" % (hours, minutes) if minutes else "%d h" % hours


def short(name):
    """A lane label that fits the left margin: 'evcc.loadpoints.1.chargePower' -> 'evcc…1.chargePower'."""
    if len(name) <= LABEL_CHARS:
        return name
    parts = name.split(".")
    if len(parts) >= 3:
        short = parts[0] + "…" + parts[-2] + "." + parts[-1]
        if len(short) <= LABEL_CHARS:
            return short
    return "…" + name[len(name) - LABEL_CHARS + 1 :]


def value_text(value):
    """A target value as a change label, cut if long."""
    text = trim(value)
    if len(text) > VALUE_CHARS:
        text = text[: VALUE_CHARS - 1] + "…"
    return text


def unit_suffix(unit):
    """' kW' after a number, but '%' sticks to it."""
    if not unit:
        return ""
    return unit if unit == "%" else " " + unit


# --- the time axis ---------------------------------------------------------


class Frame:
    """Maps recorded time t (seconds) to x pixels across the plot area."""

    __slots__ = ("length", "span", "start")

    def __init__(self, start, end):
        self.start = start
        self.length = end if end > 0 and end - end == 0 else 0  # NaN and infinity (end - end is not 0) count as 0
        # A day of length 0 still gets a one-second axis, so nothing divides by 0.
        self.span = self.length or 1.0

    def x(self, t):
        """x of time t, clamped to the plot area."""
        if t is None or t > self.span:
            t = self.span
        elif t < 0:
            t = 0
        return LEFT + t * PLOT_WIDTH / self.span

    def ticks(self):
        """[(t, 'HH:MM')] of round times of day across the span."""
        step = tick_step(self.span)
        first = math.ceil(self.start / step) * step
        out = []
        k = 0
        while True:
            t = first + k * step - self.start
            if t > self.span + 1e-6:
                break
            out.append((t, hhmm(self.start + t)))
            k += 1
        if not out:
            out.append((0, hhmm(self.start)))  # a short day still says when it was
        return out


def tick_step(span):
    """Seconds between time ticks: 15 min under 2 h, then 1, 2 or 3 hours, at most ~16 ticks."""
    if span < 2 * 3600:
        return 900
    step = 3600 if span <= 8 * 3600 else 7200 if span <= 16 * 3600 else 10800
    while span / step > 16:
        step *= 2
    return step


# --- downsampling ----------------------------------------------------------


def columns(times, values, span):
    """Per pixel column: (mean, low, high) of the held value; None where there is no data.

    A value holds from its time to the next sample, so the mean is time-weighted
    and a one-second spike still shows in the column's high.  One pass over the
    samples plus one over the columns, however long the series is.
    """
    n = PLOT_WIDTH
    last = n - 1
    width = span / n
    total = [0.0] * n
    held = [0.0] * n
    lo = [None] * n
    hi = [None] * n
    count = min(len(times), len(values))
    for i in range(count):
        v = values[i]
        # None is a gap; NaN and infinities (v - v is not 0) would break the scales.
        if v is None or not isinstance(v, NUMBER) or v - v != 0:
            continue
        a = times[i]
        b = times[i + 1] if i + 1 < count else span
        if a > span or b < 0:
            continue
        a = a if a > 0 else 0
        b = b if b < span else span
        c = int(a / width)
        c = c if c < last else last
        while True:
            edge = (c + 1) * width
            e = edge if (edge < b and c < last) else b
            if e > a:
                total[c] += v * (e - a)
                held[c] += e - a
            if lo[c] is None or v < lo[c]:
                lo[c] = v
            if hi[c] is None or v > hi[c]:
                hi[c] = v
            if e >= b:
                break
            a = e
            c += 1
    mean = [None] * n
    for c in range(n):
        if held[c] > 0:
            mean[c] = total[c] / held[c]
        elif hi[c] is not None:
            mean[c] = hi[c]  # only an instant landed here (the last sample at the end)
    return mean, lo, hi


def true_spans(times, values, end):
    """[(t0, t1)] where a flag held a true value."""
    out = []
    count = min(len(times), len(values))
    for i in range(count):
        if values[i] is True or (isinstance(values[i], NUMBER) and values[i] != 0):
            t1 = times[i + 1] if i + 1 < count else end
            if out and out[-1][1] >= times[i]:
                out[-1] = (out[-1][0], t1)
            else:
                out.append((times[i], t1))
    return out


def pixel_runs(frame, spans):
    """Spans as [(x0, x1)] merged at pixel resolution, each at least 1 px wide.

    A flag that flaps every second becomes a few hundred rectangles at most.
    """
    out = []
    for t0, t1 in spans:
        x0 = frame.x(t0)
        x1 = frame.x(t1)
        x1 = x1 if x1 - x0 >= 1 else x0 + 1
        if out and x0 <= out[-1][1] + 0.5:
            if x1 > out[-1][1]:
                out[-1] = (out[-1][0], x1)
        else:
            out.append((x0, x1))
    return out


def merge(spans):
    """Overlapping (t0, t1) spans merged into one (they arrive sorted by t0)."""
    out = []
    for t0, t1 in spans:
        if out and t0 <= out[-1][1]:
            if t1 > out[-1][1]:
                out[-1] = (out[-1][0], t1)
        else:
            out.append((t0, t1))
    return out


# --- scales ----------------------------------------------------------------


def nice(lo, hi, count):
    """A y range covering [lo, hi] with round ends, and its tick step (at most ``count`` steps)."""
    if (hi - lo) - (hi - lo) != 0:
        lo, hi = 0.0, 1.0  # an infinite range would never find its step
    if hi - lo < 1e-9:
        pad = abs(hi) * 0.1 if hi else 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / count
    mag = 1.0
    while mag * 10 <= raw:
        mag *= 10
    while mag > raw:
        mag /= 10
    step = mag
    for m in (1, 2, 2.5, 5, 10):
        step = m * mag
        if step >= raw:
            break
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step


def decimals(step):
    """Decimals a tick label needs for ticks ``step`` apart (2.5 needs one)."""
    d = 0
    while abs(step - round(step)) > 1e-6 and d < 6:
        step *= 10
        d += 1
    return d
