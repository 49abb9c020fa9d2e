"""The picture of a day (plot.svg): every part is drawn, text is escaped, long days stay small.

These checks read the SVG as text (there is no XML parser on MicroPython);
tests/host/test_plot_svg.py parses the same documents as XML on CPython.
"""

from sunshift.host import chart, plot
from support import near, scratch

H = 3600
MODE = "evcc.loadpoints.1.mode"
DHW = "emsesp.boiler.dhw.seltemp"


class Day:
    """A stand-in for the recorded day (record.py) with just the attributes plot reads."""

    def __init__(self, start=6 * H, end=12 * H, series=None, units=None, flags=None, rules=None, changes=None, thresholds=None, stale=None):
        self.start = start
        self.end = end
        self.series = series or {}
        self.units = units or {}
        self.flags = flags or {}
        self.rules = rules or []
        self.changes = changes or []
        self.thresholds = thresholds or []
        self.stale = stale or []


def example_day():
    """A short sunny morning: power, a temperature, a state of charge, two rules, three targets."""
    times = [0, H, 2 * H, 3 * H, 4 * H]
    return Day(
        start=6 * H,
        end=6 * H,
        series={
            "envoy.production": (times, [0, 1500, 4000, 5000, 3000]),
            "envoy.net_consumption": (times, [500, -1000, -3500, -4500, -2500]),
            "surplus": (times, [-500, 1000, 3500, 4500, 2500]),
            "emsesp.boiler.dhw.curtemp": (times, [45.0, 46.0, 52.5, 60.0, 59.0]),
            "evcc.loadpoints.1.vehicleSoc": (times, [40, 40, 55, 70, 80]),
        },
        units={"envoy.production": "W", "envoy.net_consumption": "W", "surplus": "W", "emsesp.boiler.dhw.curtemp": "°C", "evcc.loadpoints.1.vehicleSoc": "%"},
        flags={"evcc.loadpoints.1.charging": ([0, H, 4 * H], [False, True, False])},
        rules=[
            ("ev_surplus", "Charge from the sun", [(0.9 * H, H, "pending-on"), (H, 4 * H, "active"), (4 * H, 4.1 * H, "pending-off")]),
            ("hot_water", "Hot water", [(1.5 * H, 3 * H, "active")]),
        ],
        changes=[
            (0.0, MODE, "off", "ev_surplus"),
            (H, MODE, "pv", "ev_surplus"),
            (4.1 * H, MODE, "off", "ev_surplus"),
            (1.5 * H, DHW, 60.0, "hot_water"),
            (3 * H, DHW, 50.0, "hot_water"),
            (H, "evcc.loadpoints.1.minCurrent", 6, "ev_surplus"),
        ],
        thresholds=[
            ("ev_surplus", "surplus", ">", 1400.0, "when"),
            ("ev_surplus", "surplus", "<", 300.0, "until"),
            ("hot_water", "emsesp.boiler.dhw.curtemp", ">=", 60.0, "until"),
        ],
        stale=[("envoy", 2.5 * H, 2.75 * H)],
    )


def dense_day(points=86400):
    """A day of one-second samples that change every second (nothing for a path to merge)."""
    times = list(range(points))
    wobble = [(i * 37) % 1000 for i in range(points)]
    return Day(
        start=0,
        end=points - 1,
        series={"envoy.production": (times, wobble), "surplus": (times, wobble), "emsesp.boiler.dhw.curtemp": (times, wobble)},
        units={"envoy.production": "W", "surplus": "W", "emsesp.boiler.dhw.curtemp": "°C"},
    )


def empty_days():
    """Every degenerate day that must still give a picture."""
    return [
        Day(),
        Day(end=0),
        Day(end=0, series={"surplus": ([0], [100])}, units={"surplus": "W"}, changes=[(0, MODE, "pv", "r")], rules=[("r", "", [(0, None, "active")])]),
        Day(series={"surplus": ([0, 60, 120], [None, None, None])}, units={"surplus": "W"}),
        Day(series={"surplus": ([], [])}, units={"surplus": "W"}, flags={"x": ([], [])}),
        Day(rules=[("idle", "never ran", [])]),
        Day(thresholds=[("r", "not.recorded", ">", 1.0, "when")], stale=[("not.recorded", 0, 60)]),
        Day(end=float("inf"), series={"surplus": ([0], [float("nan")])}, units={"surplus": "W"}),
    ]


def elements(text, cls):
    """The text content of every element with ``class="cls"``, in document order (tags inside are dropped)."""
    out = []
    marker = 'class="%s"' % cls
    at = text.find(marker)
    while at >= 0:
        begin = text.find(">", at) + 1
        end = text.find("</", begin)
        inner = text[begin:end]
        # A <title> child comes first: the visible text follows it.
        if "<title>" in inner:
            inner = text[text.find("</title>", begin) + 8 : text.find("</text>", begin)]
        out.append(inner)
        at = text.find(marker, begin)
    return out


def series_path(text, colour):
    """The d attribute of the series line drawn in ``colour``."""
    for piece in text.split('<path class="series" d="')[1:]:
        d, rest = piece.split('"', 1)
        if 'stroke="%s"' % colour in rest.split(">", 1)[0]:
            return d
    raise AssertionError("no series drawn in " + colour)


def test_a_document_is_svg_with_the_title():
    text = plot.svg(example_day(), title="A sunny morning")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"')
    assert text.endswith("</svg>\n")
    assert elements(text, "title") == ["A sunny morning"]
    assert "<title>A sunny morning</title>" in text  # the browser tab's name
    assert text.count("<text") == text.count("</text>")


def test_a_long_title_is_cut_but_kept_whole_for_the_tab():
    long = "tests/traces/cloudy_day.csv: " + ", ".join("rules/r%d.rules" % i for i in range(20))
    text = plot.svg(example_day(), title=long)
    shown = elements(text, "title")[0]
    assert shown.endswith("…") and long.startswith(shown[:-1])
    assert len(shown) < 100 < len(long)
    assert "<title>%s</title>" % long in text


def test_each_change_gets_one_marker():
    day = example_day()
    assert plot.svg(day).count('class="change"') == 6
    day.changes.append((5 * H, MODE, "pv", "ev_surplus"))
    assert plot.svg(day).count('class="change"') == 7


def test_crowded_change_labels_are_skipped_but_every_marker_stays():
    changes = [(i * 10.0, MODE, "pv" if i % 2 else "off", "flappy") for i in range(150)]
    text = plot.svg(Day(changes=changes))
    assert text.count('class="change"') == 150
    labels = elements(text, "change-label")
    assert 1 <= len(labels) < 150
    assert labels[0] == "off"
    # Spread out over the day, each change has room for its label.
    sparse = [(i * 1800.0, MODE, "pv" if i % 2 else "off", "r") for i in range(20)]
    assert len(elements(plot.svg(Day(changes=sparse)), "change-label")) == 20


def test_target_lanes_are_named_and_values_formatted():
    text = plot.svg(example_day())
    # Lanes come in name order; long names are shortened, the full name is the hover title.
    assert text.find(">emsesp…dhw.seltemp<") < text.find(">evcc…1.minCurrent<") < text.find(">evcc.loadpoints.1.mode<")
    assert "<title>evcc.loadpoints.1.minCurrent</title>" in text
    assert elements(text, "change-label") == ["60", "50", "6", "off", "pv", "off"]


def test_thresholds_are_drawn_with_their_rule_clause_and_display_unit():
    text = plot.svg(example_day())
    assert text.count('class="threshold"') == 3
    assert "ev_surplus on &gt; 1.4 kW" in text
    assert "ev_surplus off &lt; 0.3 kW" in text
    assert "hot_water off &gt;= 60 °C" in text


def test_a_threshold_without_its_series_or_repeated_is_drawn_once_or_not_at_all():
    day = example_day()
    day.thresholds.append(("ev_surplus", "surplus", ">", 1400.0, "when"))
    day.thresholds.append(("other", "not.recorded", ">", 5.0, "when"))
    assert plot.svg(day).count('class="threshold"') == 3


def test_one_lane_per_rule_pending_on_hatched():
    text = plot.svg(example_day())
    assert text.count('class="rule-lane"') == 2
    assert text.find(">ev_surplus<") < text.find(">hot_water<")
    # ev_surplus waits once (hatched); its active and pending-off spans are solid.
    assert text.count('fill="url(#hatch0)"') == 1
    assert '<pattern id="hatch0"' in text
    assert "url(#hatch1)" not in text


def test_the_legend_lists_every_series_with_its_unit():
    legend = elements(plot.svg(example_day()), "legend")
    # Each entry holds a swatch and then the text.
    texts = [entry.rsplit(">", 1)[-1] for entry in legend]
    assert "envoy.production (kW)" in texts
    assert "envoy.net_consumption (kW, + import / − export)" in texts
    assert "emsesp.boiler.dhw.curtemp (°C)" in texts
    assert "evcc.loadpoints.1.vehicleSoc (%)" in texts
    assert "no data" in texts
    assert len(texts) == 6


def test_axis_titles_name_the_units():
    titles = elements(plot.svg(example_day()), "axis-title")
    assert titles == ["kW", "°C", "%", "time of day"]


def test_power_panel_has_a_zero_line_when_power_goes_negative():
    assert plot.svg(example_day()).count('class="zero"') == 1
    day = Day(series={"envoy.production": ([0], [3000])}, units={"envoy.production": "W"})
    assert 'class="zero"' not in plot.svg(day)


def test_stale_spans_are_shaded_where_their_signals_are():
    day = example_day()
    day.stale.append(("envoy.production", 2.6 * H, 2.9 * H))  # overlaps the first: one shade
    text = plot.svg(day)
    assert text.count('class="stale"') == 1
    assert elements(text, "stale-label") == ["no data"]


def test_flags_are_shaded_where_true():
    day = Day(flags={"evcc.loadpoints.1.connected": ([0, H, 2 * H, 3 * H], [False, True, False, True])})
    assert plot.svg(day).count('class="flag"') == 2


def test_time_labels_for_a_day_from_six():
    assert elements(plot.svg(Day(start=6 * H, end=12 * H)), "tick") == ["06:00", "08:00", "10:00", "12:00", "14:00", "16:00", "18:00"]
    assert elements(plot.svg(Day(start=6 * H, end=5 * H)), "tick") == ["06:00", "07:00", "08:00", "09:00", "10:00", "11:00"]


def test_time_labels_across_midnight():
    assert elements(plot.svg(Day(start=22 * H, end=4 * H)), "tick") == ["22:00", "23:00", "00:00", "01:00", "02:00"]
    assert elements(plot.svg(Day(start=22.5 * H, end=3 * H)), "tick") == ["23:00", "00:00", "01:00"]
    # A whole day from 21:00 runs to 21:00 the next day, in steps of three hours.
    assert elements(plot.svg(Day(start=21 * H, end=24 * H)), "tick") == ["21:00", "00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00"]


def test_a_short_day_gets_quarter_hours():
    assert elements(plot.svg(Day(start=6 * H + 600, end=H)), "tick") == ["06:15", "06:30", "06:45", "07:00"]


def test_one_second_samples_are_downsampled():
    text = plot.svg(dense_day())
    # Unreduced, each series alone would take over 800 kB.
    assert len(text) < 200000
    # One step per pixel column at most: H commands in the line, whatever the sample count.
    assert series_path(text, "#f59e0b").count("H") <= plot.PLOT_WIDTH + 1


def test_the_mean_per_column_is_time_weighted_and_keeps_spikes():
    # One second per column: 0 for 0.75 s then 100 for 0.25 s.
    mean, low, high = chart.columns([0, 0.75, 1], [0, 100, 0], float(plot.PLOT_WIDTH))
    assert near(mean[0], 25)
    assert low[0] == 0 and high[0] == 100
    assert mean[1] == 0
    # A gap (None) holds no value: its columns have no data.
    mean, _low, _high = chart.columns([0, 2, 4], [10, None, 30], float(plot.PLOT_WIDTH))
    assert mean[1] == 10 and mean[2] is None and mean[3] is None and mean[4] == 30


def test_a_gap_breaks_the_line():
    day = Day(end=3 * H, series={"surplus": ([0, H, 2 * H], [1000, None, 2000])}, units={"surplus": "W"})
    assert series_path(plot.svg(day), "#16a34a").count("M") == 2
    day.series["surplus"] = ([0, H, 2 * H], [1000, 1500, 2000])
    assert series_path(plot.svg(day), "#16a34a").count("M") == 1


def test_values_that_are_not_finite_numbers_are_gaps():
    values = [1000, float("nan"), float("inf"), "pv", 2000]
    day = Day(end=5 * H, series={"surplus": ([0, H, 2 * H, 3 * H, 4 * H], values)}, units={"surplus": "W"})
    text = plot.svg(day)
    for bad in ('"nan', ">nan", '"inf', ">inf", "e+"):
        assert bad not in text, bad
    # The line stops at 01:00 and starts again at 04:00.
    assert series_path(text, "#16a34a").count("M") == 2


def test_text_is_escaped():
    day = example_day()
    day.series["a&b<c>"] = ([0], [1])
    day.changes.append((H, "x<y>", 'say "hi" & <go>', "r&d"))
    text = plot.svg(day, title="Tom & Jerry's <day>")
    assert elements(text, "title") == ["Tom &amp; Jerry&#39;s &lt;day&gt;"]
    assert "a&amp;b&lt;c&gt; (no unit)" in text
    assert "say &quot;hi&quot; &amp; &lt;go&gt;" in text
    for raw in ("<c>", "<day>", "<go>", "<y>", "& ", "&d"):
        assert raw not in text, raw


def test_control_characters_are_replaced():
    text = plot.svg(Day(), title="bell\x07 here")
    assert "\x07" not in text
    assert "bell? here" in text


def test_empty_days_still_give_a_picture():
    for day in empty_days():
        text = plot.svg(day)
        assert text.endswith("</svg>\n")
        assert text.count("<text") == text.count("</text>")
        assert elements(text, "axis-title")[-1] == "time of day"
        for bad in ("None", '"nan', ">nan", " nan", '"inf', ">inf", " inf"):
            assert bad not in text, bad
    assert "nothing was recorded" in plot.svg(Day())
    assert "nothing was recorded" not in plot.svg(example_day())
    # A series with no values at all still gets its panel, which says so.
    assert "no values recorded" in plot.svg(empty_days()[3])
    assert "no values recorded" not in plot.svg(example_day())


def test_write_saves_the_document_as_utf8():
    path = scratch("plot.svg")
    day = example_day()
    plot.write(day, path, title="Wärme")
    with open(path, "rb") as f:
        data = f.read()
    assert data.decode("utf-8") == plot.svg(day, title="Wärme")
