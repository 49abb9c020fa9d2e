"""A picture of the day: one self-contained SVG drawn from a recorded day.

``svg(day)`` returns the document; ``write(day, path)`` saves it.  The picture
has, top to bottom: a title and legend, a power panel in kW (net grid power is
+ import / - export, with a zero line), one smaller panel per other unit (°C,
%), thin lanes for on/off flags, one lane per rule, one lane per written target,
and a shared time-of-day axis.

Everything is plain string building so the module also imports on MicroPython;
there are no fonts, scripts or links, so the file opens offline in any browser.
The arithmetic under it (sizes, the time frame, downsampling, scales) is
chart.py; this module is the drawing, about 600 lines because every part of
it places itself on one shared frame, below the parts drawn before it.

``day`` needs these attributes (see record.py): ``start`` (seconds after
midnight at t=0), ``end`` (t of the last moment), ``series`` {name: (times,
values)}, ``units`` {name: unit}, ``flags`` {name: (times, bools)}, ``rules``
[(name, title, [(t0, t1, state)])], ``changes`` [(t, target, value, rule)] in
time order, ``thresholds`` [(rule, name, op, value, clause)] and ``stale``
[(name, t0, t1)].  A value holds until the next sample; None is a gap.
"""

from .. import port
from .. import units as units_module
from . import chart
from .chart import FLAG_HEIGHT, LANE_GAP, LEFT, NUMBER, PANEL_GAP, PANEL_HEIGHT, PLOT_WIDTH, POWER_HEIGHT, RIGHT, RULE_HEIGHT, TARGET_HEIGHT, WIDTH

FONT = "sans-serif"
TEXT = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
FRAME = "#d1d5db"
STALE = "#9ca3af"
FLAG = "#0d9488"

# Series colours: well-known signals get the colour people expect (solar
# orange, grid blue, surplus green); the rest take the palette in name order.
PALETTE = ("#d62728", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f", "#1f77b4", "#ff7f0e", "#9467bd", "#2ca02c")
KNOWN_COLOURS = (
    ("production", "#f59e0b"),
    ("net_consumption", "#2563eb"),
    ("consumption", "#4b5563"),
    ("total_consumption", "#4b5563"),
    ("surplus", "#16a34a"),
    ("chargePower", "#9333ea"),
)
RULE_COLOURS = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#db2777", "#0891b2", "#ca8a04", "#4b5563")
# Target values: common evcc modes and booleans get fixed pastel colours.
VALUE_COLOURS = (("off", "#e5e7eb"), ("false", "#e5e7eb"), ("pv", "#bbf7d0"), ("minpv", "#d9f99d"), ("now", "#fed7aa"), ("true", "#bbf7d0"))
VALUE_PALETTE = ("#bfdbfe", "#fde68a", "#fbcfe8", "#ddd6fe", "#a5f3fc", "#fecaca", "#c7d2fe", "#e9d5ff")

# unit -> (panel, axis unit, divisor): power is drawn in kW whatever it was recorded in.
DISPLAY = {"W": ("W", "kW", 1000.0), "kW": ("W", "kW", 1.0), "Wh": ("Wh", "kWh", 1000.0), "kWh": ("Wh", "kWh", 1.0)}
PANEL_ORDER = ("W", "Wh", "°C", "%", "/kWh", "g/kWh")
CLAUSE_WORDS = {"when": "on", "until": "off"}


# --- the document ----------------------------------------------------------


class _Panel:
    """One y axis: the series of one unit, their thresholds and stale spans."""

    __slots__ = ("divisor", "empty", "height", "hi", "key", "lines", "lo", "stale", "step", "thresholds", "top", "unit")

    def __init__(self, key, unit, divisor, height):
        self.key = key
        self.unit = unit
        self.divisor = divisor
        self.height = height
        self.lines = []  # [(name, colour, (mean, lo, hi))]
        self.thresholds = []  # [(value in display unit, label, colour)]
        self.stale = []  # [(t0, t1)]
        self.lo = None
        self.hi = None
        self.step = None
        self.empty = True
        self.top = 0

    def y(self, value):
        """y pixel of a value in the display unit."""
        return self.top + self.height - (value - self.lo) / (self.hi - self.lo) * self.height


def _attr(day, name, empty):
    """An attribute of ``day``, or ``empty`` when it is missing or None."""
    value = getattr(day, name, None)
    return empty if value is None else value


def _colours(names):
    """{name: colour}: known signals first, then the palette in name order."""
    out = {}
    used = []
    for name in names:
        last = name.split(".")[-1]
        for key, colour in KNOWN_COLOURS:
            if last == key and colour not in used:
                out[name] = colour
                used.append(colour)
                break
    free = [c for c in PALETTE if c not in used]
    k = 0
    for name in names:
        if name not in out:
            out[name] = free[k % len(free)]
            k += 1
    return out


def _panels(day, frame):
    """The panels, power first, with their downsampled series, thresholds and stale spans."""
    series = _attr(day, "series", {})
    units = _attr(day, "units", {})
    names = sorted(series)
    colours = _colours(names)
    panels = []
    where = {}  # series name -> its panel
    for name in names:
        unit = units.get(name, "") or ""
        key, axis, divisor = DISPLAY.get(unit, (unit, unit, 1.0))
        if key == "/kWh":
            axis = units_module.currency[0] + "/kWh"  # a price: in evcc's currency
        panel = None
        for p in panels:
            if p.key == key:
                panel = p
        if panel is None:
            panel = _Panel(key, axis, divisor, POWER_HEIGHT if key == "W" else PANEL_HEIGHT)
            panels.append(panel)
        times, values = series[name]
        panel.lines.append((name, colours[name], chart.columns(times, values, frame.span)))
        where[name] = panel
    _add_thresholds(day, where, colours)
    _add_stale(day, panels, where)
    for panel in panels:
        _scale(panel)
    return sorted(panels, key=_panel_rank)


def _panel_rank(panel):
    """Power first, then °C and %, then any other unit by name."""
    for i, key in enumerate(PANEL_ORDER):
        if panel.key == key:
            return "%d" % i
    return "9" + panel.key


def _add_thresholds(day, where, colours):
    """Each distinct threshold into the panel of its series, labelled 'rule on > 1.4 kW'."""
    seen = []
    for item in _attr(day, "thresholds", []):
        rule, name, op, value, clause = item
        panel = where.get(name)
        if panel is None or not isinstance(value, NUMBER) or value - value != 0 or item in seen:
            continue
        seen.append(item)
        shown = value / panel.divisor
        label = "%s %s %s %s%s" % (rule, CLAUSE_WORDS.get(clause, clause), op, chart.trim(shown), chart.unit_suffix(panel.unit))
        panel.thresholds.append((shown, label, colours[name]))


def _add_stale(day, panels, where):
    """Stale spans onto the panels of the signals they name (a device prefix names all of its signals)."""
    for name, t0, t1 in _attr(day, "stale", []):
        for series_name in where:
            if series_name == name or series_name.startswith(name + "."):
                where[series_name].stale.append((t0, t1))
    for panel in panels:
        spans = sorted((t0, t1 if t1 is not None else 1e30) for t0, t1 in panel.stale)
        panel.stale = chart.merge(spans)


def _scale(panel):
    """The panel's y range: all data and thresholds; power always shows 0."""
    lo = None
    hi = None
    for _name, _colour, (_mean, low, high) in panel.lines:
        for v in low:
            if v is not None and (lo is None or v < lo):
                lo = v
        for v in high:
            if v is not None and (hi is None or v > hi):
                hi = v
    panel.empty = lo is None
    lo = None if lo is None else lo / panel.divisor
    hi = None if hi is None else hi / panel.divisor
    for value, _label, _colour in panel.thresholds:
        lo = value if lo is None or value < lo else lo
        hi = value if hi is None or value > hi else hi
    if lo is None:
        lo, hi = 0.0, 1.0
    else:
        # A little air, so a line along the top or bottom is not hidden by the frame.
        pad = (hi - lo) * 0.03
        lo, hi = lo - pad, hi + pad
    if panel.key in ("W", "Wh"):
        lo = lo if lo < 0 else 0.0
        hi = hi if hi > 0 else 0.0
    if panel.unit == "%" and lo >= -3 and hi <= 103:
        lo, hi = 0.0, 100.0  # percentages read best on their whole scale
    # Power gets more grid lines: its panel is taller and read most closely.
    panel.lo, panel.hi, panel.step = chart.nice(lo, hi, 8 if panel.height == POWER_HEIGHT else 4)


def svg(day, title=""):
    """The SVG document (a str) picturing ``day``; ``title`` heads it and names the browser tab."""
    title = str(title) if title else "sunshift: a day"
    start = _attr(day, "start", 0) or 0
    end = _attr(day, "end", 0) or 0
    frame = chart.Frame(start, end)
    panels = _panels(day, frame)
    body = []
    defs = []
    top = y = _header(body, frame, panels, title)
    for panel in panels:
        panel.top = y
        y += panel.height + PANEL_GAP
    y = _lanes(body, defs, day, frame, y)
    if y == top:
        body.append('<text x="%d" y="%d" text-anchor="middle" fill="%s" font-size="14">nothing was recorded</text>\n' % (LEFT + PLOT_WIDTH // 2, y + 30, MUTED))
        y += 60
    # Every block ends with a PANEL_GAP below it; the axis sits a little under the last one.
    bottom = y - PANEL_GAP + 6
    # The time grid goes first so that everything else is drawn over it.
    drawing = _time_grid(frame, top, bottom)
    for panel in panels:
        _panel(drawing, frame, panel)
    height = _time_axis(drawing, frame, bottom)
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s" font-size="11" fill="%s">\n'
        "<title>%s</title>\n"
        '<rect width="100%%" height="100%%" fill="#ffffff"/>\n' % (WIDTH, height, WIDTH, height, FONT, TEXT, chart.esc(title))
    )
    defs_text = "<defs>\n%s</defs>\n" % "".join(defs) if defs else ""
    return head + defs_text + "".join(drawing) + "".join(body) + "</svg>\n"


def write(day, path, title=""):
    """Write the picture of ``day`` to ``path`` as an SVG file (UTF-8)."""
    port.write_atomic(path, svg(day, title))


# --- header and legend -----------------------------------------------------


def _header(out, frame, panels, title):
    """Title, time range and legend; returns the y where the panels start."""
    when = "%s to %s (%s)" % (chart.hhmm(frame.start), chart.hhmm(frame.start + frame.length), chart.duration(frame.length))
    # A long title is cut before it runs into the time range (bold is wider, hence 1.1).
    room = int((WIDTH - RIGHT - 16 - 24 - chart.width(when, 12)) / chart.width("x", 18 * 1.1))
    if len(title) > room:
        title = title[: room - 1] + "…"
    out.append('<text class="title" x="16" y="28" font-size="18" font-weight="bold">%s</text>\n' % chart.esc(title))
    out.append('<text x="%d" y="28" text-anchor="end" font-size="12" fill="%s">%s</text>\n' % (WIDTH - RIGHT, MUTED, chart.esc(when)))
    entries = []
    for panel in panels:
        for name, colour, _cols in panel.lines:
            note = ", + import / − export" if name.split(".")[-1] == "net_consumption" else ""
            entries.append((name + " (" + (panel.unit or "no unit") + note + ")", colour, "line"))
    if any(panel.stale for panel in panels):
        entries.append(("no data", STALE, "box"))
    return _legend(out, entries, 44)


def _legend(out, entries, y):
    """Legend entries flowing left to right, wrapping; returns the y below it."""
    if not entries:
        return y + 8
    x = 16
    row = y + 12
    for text, colour, kind in entries:
        w = 26 + chart.width(text, 12) + 18
        if x + w > WIDTH - RIGHT and x > 16:
            x = 16
            row += 18
        if kind == "line":
            swatch = '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>' % (x, row - 4, x + 20, row - 4, colour)
        else:
            swatch = '<rect x="%d" y="%d" width="20" height="10" fill="%s" fill-opacity="0.35"/>' % (x, row - 9, colour)
        out.append('<g class="legend">%s<text x="%d" y="%d" font-size="12">%s</text></g>\n' % (swatch, x + 26, row, chart.esc(text)))
        x += w
    return row + 18


# --- panels ----------------------------------------------------------------


def _panel(out, frame, panel):
    """One y-axis panel: stale shading, grid, series, thresholds, frame (back to front)."""
    top, h = panel.top, panel.height
    labels = []
    for t0, t1 in panel.stale:
        x0, x1 = frame.x(t0), frame.x(t1)
        w = x1 - x0 if x1 - x0 >= 1 else 1
        out.append('<rect class="stale" x="%s" y="%d" width="%s" height="%d" fill="%s" fill-opacity="0.3"/>\n' % (chart.num(x0), top, chart.num(w), h, STALE))
        # A narrow span gets its label along it rather than spilling over the data beside it.
        if w >= 44:
            labels.append(
                '<text class="stale-label" x="%s" y="%d" text-anchor="middle" font-size="10" fill="%s">no data</text>\n'
                % (chart.num(x0 + w / 2), top + 12, MUTED)
            )
        elif w >= 12 and h >= 50:
            x, y = chart.num(x0 + w / 2 + 3.5), top + 6
            labels.append(
                '<text class="stale-label" x="%s" y="%d" text-anchor="end" font-size="10" fill="%s" transform="rotate(-90 %s %d)">no data</text>\n'
                % (x, y, MUTED, x, y)
            )
    _y_axis(out, panel)
    for _name, colour, cols in panel.lines:
        _envelope(out, panel, colour, cols)
    if panel.key in ("W", "Wh") and panel.lo < 0 < panel.hi:
        y0 = chart.num(panel.y(0))
        out.append('<line class="zero" x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s" stroke-width="1"/>\n' % (LEFT, y0, LEFT + PLOT_WIDTH, y0, TEXT))
    for _name, colour, cols in panel.lines:
        _line(out, panel, colour, cols)
    _thresholds(out, panel)
    out.extend(labels)  # on top: the shading is behind the lines, its label must not be
    if panel.empty:
        out.append(
            '<text x="%d" y="%d" text-anchor="middle" font-size="12" fill="%s">no values recorded</text>\n' % (LEFT + PLOT_WIDTH // 2, top + h // 2, MUTED)
        )
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="%s"/>\n' % (LEFT, top, PLOT_WIDTH, h, FRAME))


def _y_axis(out, panel):
    """Horizontal grid lines with tick labels, and the rotated unit title."""
    lo, hi, step = panel.lo, panel.hi, panel.step
    fmt = "%." + str(chart.decimals(step)) + "f"
    k = 0
    while True:
        v = lo + k * step
        if v > hi + step * 1e-6:
            break
        y = chart.num(panel.y(v))
        out.append('<line x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s"/>\n' % (LEFT, y, LEFT + PLOT_WIDTH, y, GRID))
        label = fmt % v
        label = "0" if label.lstrip("-").strip("0.") == "" else label
        out.append('<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle" fill="%s">%s</text>\n' % (LEFT - 6, y, MUTED, label))
        k += 1
    mid = panel.top + panel.height // 2
    x = LEFT - 46
    out.append(
        '<text class="axis-title" x="%d" y="%d" text-anchor="middle" transform="rotate(-90 %d %d)" font-size="12">%s</text>\n'
        % (x, mid, x, mid, chart.esc(panel.unit or "value"))
    )


def _line(out, panel, colour, cols):
    """The mean per column as a step path (H/V commands), broken at gaps."""
    mean = cols[0]
    d = []
    prev = None
    d_div = panel.divisor
    for c in range(PLOT_WIDTH):
        v = mean[c]
        if v is None:
            if prev is not None:
                d.append("H%d" % (LEFT + c))
                prev = None
            continue
        y = chart.num(panel.y(v / d_div))
        if prev is None:
            d.append("M%d %s" % (LEFT + c, y))
        elif y != prev:
            d.append("H%dV%s" % (LEFT + c, y))
        prev = y
    if prev is not None:
        d.append("H%d" % (LEFT + PLOT_WIDTH))
    if d:
        out.append('<path class="series" d="%s" fill="none" stroke="%s" stroke-width="1.5" stroke-linejoin="round"/>\n' % ("".join(d), colour))


def _envelope(out, panel, colour, cols):
    """A faint min-max band where a column's samples spread over more than a pixel (spikes stay visible)."""
    _mean, low, high = cols
    d = []
    div = panel.divisor
    for c in range(PLOT_WIDTH):
        if low[c] is None:
            continue
        y_hi = panel.y(high[c] / div)
        y_lo = panel.y(low[c] / div)
        if y_lo - y_hi > 1.5:
            d.append("M%d.5 %sV%s" % (LEFT + c, chart.num(y_lo), chart.num(y_hi)))
    if d:
        out.append('<path d="%s" stroke="%s" stroke-opacity="0.25" stroke-width="1"/>\n' % ("".join(d), colour))


def _thresholds(out, panel):
    """Dashed lines across the panel, each labelled where the label hides the least data."""
    bands = _data_bands(panel) if panel.thresholds else []
    placed = []  # label boxes already drawn: (x0, y0, x1, y1)
    for value, label, colour in sorted(panel.thresholds):
        y = panel.y(value)
        out.append(
            '<line class="threshold" x1="%d" y1="%s" x2="%d" y2="%s" stroke="%s" stroke-width="1.2" stroke-dasharray="6 4"/>\n'
            % (LEFT, chart.num(y), LEFT + PLOT_WIDTH, chart.num(y), colour)
        )
        x0, y0, x1, y1 = _label_box(panel, bands, placed, y, chart.width(label, 10) + 6)
        placed.append((x0, y0, x1, y1))
        out.append(
            '<rect x="%s" y="%s" width="%s" height="%s" fill="#ffffff" fill-opacity="0.75"/>\n'
            % (chart.num(x0), chart.num(y0), chart.num(x1 - x0), chart.num(y1 - y0))
            + '<text x="%s" y="%s" text-anchor="end" font-size="10" fill="%s">%s</text>\n' % (chart.num(x1 - 3), chart.num(y0 + 10), colour, chart.esc(label))
        )


def _data_bands(panel):
    """Per series, the pixel rows [top, bottom] its data covers in each column (None where there is none)."""
    bands = []
    for _name, _colour, (_mean, low, high) in panel.lines:
        tops = [None if v is None else panel.y(v / panel.divisor) - 1 for v in high]
        bottoms = [None if v is None else panel.y(v / panel.divisor) + 1 for v in low]
        bands.append((tops, bottoms))
    return bands


def _covered(bands, y0, y1):
    """Running count of data columns that meet rows [y0, y1]: entry c is the count left of column c."""
    counts = [0] * (PLOT_WIDTH + 1)
    run = 0
    for c in range(PLOT_WIDTH):
        for tops, bottoms in bands:
            top = tops[c]
            if top is not None and top <= y1 and bottoms[c] >= y0:
                run += 1
        counts[c + 1] = run
    return counts


def _label_box(panel, bands, placed, y, w):
    """A threshold label's box: just above its line (else below), hiding the least data and no other label.

    Candidates run from the right edge leftwards; the first one that hides
    nothing wins, otherwise the one that hides least.
    """
    best = None
    best_cost = None
    for y0 in (y - 14, y + 1):
        if y0 < panel.top or y0 + 13 > panel.top + panel.height:
            continue
        counts = _covered(bands, y0, y0 + 13)
        x1 = LEFT + PLOT_WIDTH - 4
        while x1 - w >= LEFT + 2:
            box = (x1 - w, y0, x1, y0 + 13)
            cost = counts[int(x1 - LEFT)] - counts[int(x1 - w - LEFT)]
            for other in placed:
                if box[0] < other[2] + 6 and other[0] < box[2] + 6 and box[1] < other[3] and other[1] < box[3]:
                    cost += 100000  # another label is there: only if there is no room at all
            if cost == 0:
                return box
            if best_cost is None or cost < best_cost:
                best, best_cost = box, cost
            x1 -= 24
    if best is None:  # a panel too small for the label: put it at the line, right-aligned
        x1 = LEFT + PLOT_WIDTH - 4
        best = (x1 - w, y - 6.5, x1, y + 6.5)
    return best


# --- lanes -----------------------------------------------------------------


def _lane_label(out, y, h, name, size=11):
    """A lane's name right-aligned in the left margin; the full name is its hover title."""
    out.append(
        '<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle" font-size="%d"><title>%s</title>%s</text>\n'
        % (LEFT - 8, chart.num(y + h / 2), size, chart.esc(name), chart.esc(chart.short(name)))
    )


def _section(out, y, text):
    """A small grey heading above a group of lanes; returns the y below it."""
    out.append('<text x="%d" y="%d" font-size="11" font-style="italic" fill="%s">%s</text>\n' % (LEFT, y + 11, MUTED, chart.esc(text)))
    return y + 16


def _lanes(out, defs, day, frame, y):
    """Flag, rule and target lanes from y down; returns the y below the last."""
    flags = _attr(day, "flags", {})
    if flags:
        y = _section(out, y, "flags: shaded while on")
        for name in sorted(flags):
            times, values = flags[name]
            _flag_lane(out, frame, y, name, chart.true_spans(times, values, frame.span))
            y += FLAG_HEIGHT + LANE_GAP
        y += PANEL_GAP - LANE_GAP
    rules = _attr(day, "rules", [])
    if rules:
        y = _section(out, y, "rules: solid while on, hatched while waiting for a 'for' delay")
        for i, (name, title, spans) in enumerate(rules):
            colour = RULE_COLOURS[i % len(RULE_COLOURS)]
            defs.append(
                '<pattern id="hatch%d" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">'
                '<rect width="6" height="6" fill="#ffffff"/><rect width="2.5" height="6" fill="%s" fill-opacity="0.6"/></pattern>\n' % (i, colour)
            )
            _rule_lane(out, frame, y, i, name, title, colour, spans)
            y += RULE_HEIGHT + LANE_GAP
        y += PANEL_GAP - LANE_GAP
    targets = _targets(_attr(day, "changes", []))
    if targets:
        y = _section(out, y, "targets: each mark is a write, labelled with the value written")
        for name, changes in targets:
            _target_lane(out, frame, y, name, changes)
            y += TARGET_HEIGHT + LANE_GAP
        y += PANEL_GAP - LANE_GAP
    return y


def _flag_lane(out, frame, y, name, spans):
    """A thin lane shaded where the flag was true."""
    _lane_label(out, y, FLAG_HEIGHT, name, 10)
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#f3f4f6"/>\n' % (LEFT, y, PLOT_WIDTH, FLAG_HEIGHT))
    for x0, x1 in chart.pixel_runs(frame, spans):
        out.append('<rect class="flag" x="%s" y="%d" width="%s" height="%d" fill="%s"/>\n' % (chart.num(x0), y, chart.num(x1 - x0), FLAG_HEIGHT, FLAG))


def _rule_lane(out, frame, y, index, name, title, colour, spans):
    """One rule: solid where its 'then' values are wanted, hatched while a 'for' delay runs."""
    out.append('<g class="rule-lane">\n')
    _lane_label(out, y, RULE_HEIGHT, name)
    tip = "<title>%s</title>" % chart.esc(title) if title else ""
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#f3f4f6">%s</rect>\n' % (LEFT, y, PLOT_WIDTH, RULE_HEIGHT, tip))
    for t0, t1, state in spans:
        x0 = frame.x(t0)
        x1 = frame.x(t1)
        w = x1 - x0 if x1 - x0 >= 1 else 1
        fill = "url(#hatch%d)" % index if state == "pending-on" else colour
        out.append(
            '<rect x="%s" y="%d" width="%s" height="%d" fill="%s"><title>%s %s–%s</title></rect>\n'
            % (
                chart.num(x0),
                y,
                chart.num(w),
                RULE_HEIGHT,
                fill,
                chart.esc(state),
                chart.hhmmss(frame.start + t0),
                chart.hhmmss(frame.start + (frame.span if t1 is None else t1)),
            )
        )
    out.append("</g>\n")


def _targets(changes):
    """[(target, [(t, value, rule)])]: changes grouped by target, targets by name, changes in the order given."""
    groups = {}
    for t, target, value, rule in changes:
        if target not in groups:
            groups[target] = []
        groups[target].append((t, value, rule))
    return [(name, groups[name]) for name in sorted(groups)]


def _value_colour(value, colours):
    """The band colour of a target value: fixed for common values, else the next pastel in order of appearance."""
    key = chart.trim(value)
    for k, colour in colours:
        if k == key:
            return colour
    for k, colour in VALUE_COLOURS:
        if k == key:
            colours.append((key, colour))
            return colour
    fixed = [k for k, _c in VALUE_COLOURS]
    taken = 0
    for k, _c in colours:
        if k not in fixed:
            taken += 1
    colour = VALUE_PALETTE[taken % len(VALUE_PALETTE)]
    colours.append((key, colour))
    return colour


def _target_lane(out, frame, y, name, changes):
    """Bands for the value held between writes, a mark per write, and labels that never overlap."""
    _lane_label(out, y, TARGET_HEIGHT, name)
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#f9fafb"/>\n' % (LEFT, y, PLOT_WIDTH, TARGET_HEIGHT))
    colours = []
    for i, (t, value, _rule) in enumerate(changes):
        t_next = changes[i + 1][0] if i + 1 < len(changes) else frame.span
        x0, x1 = frame.x(t), frame.x(t_next)
        if x1 > x0:
            out.append(
                '<rect x="%s" y="%d" width="%s" height="%d" fill="%s"/>\n'
                % (chart.num(x0), y, chart.num(x1 - x0), TARGET_HEIGHT, _value_colour(value, colours))
            )
    out.append('<g fill="%s" stroke="%s">\n' % (TEXT, TEXT))
    for t, value, rule in changes:
        x = chart.num(frame.x(t))
        tip = "%s %s = %s%s" % (chart.hhmmss(frame.start + t), name, chart.trim(value), " (" + str(rule) + ")" if rule else "")
        out.append('<path class="change" d="M%s %dv%dm-3.5 -%dh7l-3.5 5z"><title>%s</title></path>\n' % (x, y, TARGET_HEIGHT, TARGET_HEIGHT, chart.esc(tip)))
    out.append("</g>\n")
    right_end = -1e9
    for t, value, _rule in changes:
        text = chart.value_text(value)
        x = frame.x(t) + 4
        w = chart.width(text, 10)
        if x + w > LEFT + PLOT_WIDTH:
            x = frame.x(t) - 4 - w  # the last labels go left of their mark rather than off the edge
        if x < right_end + 4:
            continue  # would overlap the previous label; the mark is still drawn
        out.append('<text class="change-label" x="%s" y="%d" font-size="10">%s</text>\n' % (chart.num(x), y + TARGET_HEIGHT - 6, chart.esc(text)))
        right_end = x + w


# --- time grid and axis ----------------------------------------------------


def _time_grid(frame, top, bottom):
    """Vertical grid lines at the time ticks through all panels and lanes (drawn first, behind everything)."""
    out = []
    for t, _label in frame.ticks():
        x = chart.num(frame.x(t))
        out.append('<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s"/>\n' % (x, top, x, bottom, GRID))
    return out


def _time_axis(out, frame, bottom):
    """Tick marks, HH:MM labels and the axis title under everything; returns the document height."""
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>\n' % (LEFT, bottom, LEFT + PLOT_WIDTH, bottom, MUTED))
    for t, label in frame.ticks():
        x = chart.num(frame.x(t))
        out.append('<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s"/>\n' % (x, bottom, x, bottom + 5, MUTED))
        out.append('<text class="tick" x="%s" y="%d" text-anchor="middle">%s</text>\n' % (x, bottom + 18, label))
    out.append('<text class="axis-title" x="%d" y="%d" text-anchor="middle" font-size="12">time of day</text>\n' % (LEFT + PLOT_WIDTH // 2, bottom + 38))
    return bottom + 50
