"""The figures of a run, checked against sums done by hand."""

from sunshift import port
from sunshift.host import runs, summary
from sunshift.host.trace import Trace
from support import near, rules, scratch

MODE = "evcc.loadpoints.1.mode"
RULE = """
rule export "Charge while exporting over 1 kW"
  when envoy.net_consumption < -1kW
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
"""


def write(name, text):
    path = scratch(name)
    f = open(path, "w")
    f.write(text)
    f.close()
    return path


def short_run():
    # Four minutes, a sample a minute; each value holds until the next sample.
    path = write(
        "summary.csv",
        "t,envoy.production,envoy.net_consumption\n0,1000,-500\n60,2000,-1500\n120,0,300\n180,0,300\n",
    )
    return runs.Run(rules(RULE)).trace(Trace(path))


def test_energy_of_a_short_trace_worked_out_by_hand():
    figures = short_run().figures()
    # Produced: 1000 W for 60 s + 2000 W for 60 s = 180,000 Ws = 0.05 kWh.
    assert figures["produced_kwh"] == 0.05
    # Exported: 500 W and 1500 W for a minute each = 120,000 Ws = 0.0333 kWh.
    assert figures["exported_kwh"] == 0.033
    # Imported: 300 W from 120 to 180 (the last sample ends the run) = 0.005 kWh.
    assert figures["imported_kwh"] == 0.005
    # Kept: 0.05 - 0.0333 = 0.0167 kWh, a third of what was produced; the house
    # used 0.0167 + 0.005 = 0.0217 kWh, 77% of it from the sun.
    assert figures["self_consumed_kwh"] == 0.017
    assert figures["consumed_kwh"] == 0.022
    assert figures["self_consumption"] == 0.333
    assert figures["self_sufficiency"] == 0.769
    assert figures["span_s"] == 180
    assert figures["unmeasured_s"] == 0


def test_changes_and_time_in_each_value_worked_out_by_hand():
    figures = short_run().figures()
    # off at 0 (the first tick writes every target), pv at 60, off at 120.
    assert figures["changes"] == {MODE: 3}
    assert figures["time_in_value_s"] == {MODE: {"off": 120, "pv": 60}}


def test_a_gap_longer_than_the_stale_limit_is_not_guessed():
    s = summary.Summary(max_gap=120)
    s.sample(0, [("envoy.production", 1000), ("envoy.net_consumption", -1000)])
    s.sample(600, [("envoy.production", 3000), ("envoy.net_consumption", -3000)])
    s.sample(660, [("envoy.production", 0), ("envoy.net_consumption", 0)])
    figures = s.figures(660)
    # Only 600..660 counts: 3000 W for a minute = 0.05 kWh; 600 s are unmeasured.
    assert figures["produced_kwh"] == 0.05
    assert figures["exported_kwh"] == 0.05
    assert figures["unmeasured_s"] == 600
    assert "  no power data   for 10m (not counted)" in summary.lines(figures)


def test_without_production_only_grid_figures_are_given():
    s = summary.Summary()
    s.sample(0, [("envoy.net_consumption", 3600)])
    s.sample(100, [("envoy.net_consumption", "oops"), ("envoy.net_consumption", 0)])
    figures = s.figures(100)
    assert figures["imported_kwh"] == 0.1
    assert figures["produced_kwh"] is None
    assert figures["self_consumption"] is None
    assert summary.lines(figures)[0] == "  produced        -"


def test_the_json_is_sorted_and_reads_back():
    figures = short_run().figures()
    text = summary.to_json(figures)
    assert text.index('"changes"') < text.index('"produced_kwh"') < text.index('"time_in_value_s"')
    back = port.json_loads(text)
    assert back["time_in_value_s"][MODE]["pv"] == 60
    assert near(back["self_consumption"], 0.333)


def test_lines_for_a_terminal():
    text = "\n".join(summary.lines(short_run().figures()))
    assert "  produced        0.050 kWh" in text
    assert "(33%) of it" in text
    assert "evcc.loadpoints.1.mode: 3 changes; off 2m, pv 1m" in text
