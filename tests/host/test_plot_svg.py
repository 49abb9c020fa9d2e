"""The picture of a day parsed as XML (CPython only: MicroPython has no xml.etree).

The days come from tests/portable/test_plot.py, so both suites look at the same pictures.
"""

import xml.etree.ElementTree as ET

from test_plot import MODE, Day, H, dense_day, empty_days, example_day

from sunshift.host import plot

NS = "{http://www.w3.org/2000/svg}"


def parse(day, title=""):
    """The SVG root element of ``day``'s picture (fails if it is not well-formed XML)."""
    return ET.fromstring(plot.svg(day, title))


def with_class(root, cls):
    """Every element with ``class="cls"``."""
    return [e for e in root.iter() if e.get("class") == cls]


def visible_text(element):
    """The text of an element without its hover title."""
    return "".join([element.text or ""] + [child.tail or "" for child in element]).strip()


def test_the_example_is_well_formed_svg():
    root = parse(example_day(), "A sunny morning")
    assert root.tag == NS + "svg"
    assert root.get("width") == "1200"
    assert int(root.get("height")) > 400
    assert [e.text for e in with_class(root, "title")] == ["A sunny morning"]


def test_each_change_is_one_marker_element():
    day = example_day()
    markers = with_class(parse(day), "change")
    assert len(markers) == len(day.changes)
    # Each marker says what was written when, on hover.
    tips = [m.find(NS + "title").text for m in markers]
    assert "07:00:00 evcc.loadpoints.1.mode = pv (ev_surplus)" in tips


def test_a_bad_day_of_changes_stays_countable():
    changes = [(i * 60.0, MODE, "pv" if i % 2 else "off", "flappy") for i in range(160)]
    root = parse(Day(changes=changes))
    assert len(with_class(root, "change")) == 160
    assert 1 <= len(with_class(root, "change-label")) < 160


def test_thresholds_rule_lanes_legend_and_axis_titles():
    root = parse(example_day())
    labels = [e.text for e in root.iter(NS + "text")]
    assert "ev_surplus on > 1.4 kW" in labels
    assert "ev_surplus off < 0.3 kW" in labels
    assert "hot_water off >= 60 °C" in labels
    assert len(with_class(root, "threshold")) == 3
    lanes = with_class(root, "rule-lane")
    assert [visible_text(lane.find(NS + "text")) for lane in lanes] == ["ev_surplus", "hot_water"]
    legend = [g.find(NS + "text").text for g in with_class(root, "legend")]
    assert legend[:2] == ["envoy.net_consumption (kW, + import / − export)", "envoy.production (kW)"]
    assert len(legend) == 6
    assert [e.text for e in with_class(root, "axis-title")] == ["kW", "°C", "%", "time of day"]


def test_time_of_day_labels():
    ticks = [e.text for e in with_class(parse(Day(start=6 * H, end=12 * H)), "tick")]
    assert ticks == ["06:00", "08:00", "10:00", "12:00", "14:00", "16:00", "18:00"]
    ticks = [e.text for e in with_class(parse(Day(start=22 * H, end=4 * H)), "tick")]
    assert ticks == ["22:00", "23:00", "00:00", "01:00", "02:00"]


def test_ticks_sit_where_their_time_is():
    root = parse(Day(start=22 * H, end=4 * H))
    ticks = with_class(root, "tick")
    xs = [float(e.get("x")) for e in ticks]
    assert xs[0] == plot.LEFT
    assert xs[-1] == plot.LEFT + plot.PLOT_WIDTH
    # Midnight is two hours into four.
    assert abs(xs[2] - (plot.LEFT + plot.PLOT_WIDTH / 2)) < 0.1


def test_escaped_text_reads_back_as_written():
    day = example_day()
    day.series["a&b<c>"] = ([0], [1])
    day.changes.append((H, "x<y>", 'say "hi" & <go>', "r&d"))
    root = parse(day, "Tom & Jerry's <day>")
    assert [e.text for e in with_class(root, "title")] == ["Tom & Jerry's <day>"]
    texts = [e.text for e in root.iter(NS + "text")]
    assert "a&b<c> (no unit)" in texts
    assert 'say "hi" & <go>' in [e.text for e in with_class(root, "change-label")]


def test_empty_days_are_well_formed():
    for day in empty_days():
        root = parse(day)
        assert [e.text for e in with_class(root, "axis-title")][-1] == "time of day"
        assert with_class(root, "tick")


def test_a_day_of_one_second_samples_stays_small_and_well_formed():
    text = plot.svg(dense_day())
    assert len(text.encode("utf-8")) < 200000
    root = ET.fromstring(text)
    paths = with_class(root, "series")
    assert len(paths) == 3
    for path in paths:
        assert path.get("d").count("H") <= plot.PLOT_WIDTH + 1


def test_the_document_is_self_contained():
    day = example_day()
    root = parse(day)
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    for e in root.iter():
        assert e.tag.rsplit("}", 1)[-1] not in ("script", "image", "foreignObject", "a", "style", "use"), e.tag
        for name, value in e.attrib.items():
            assert "href" not in name, name
            assert not name.startswith("on"), name
            if "url(" in value:
                # Only references to patterns inside the document itself.
                assert value.startswith("url(#") and value[5:-1] in ids, value
    assert "http" not in plot.svg(day).replace('xmlns="http://www.w3.org/2000/svg"', "")
