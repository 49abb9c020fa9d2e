"""`sim --scenario`, `scenario` (export), `--summary`, `--plot`, and what the
docs promise about the broken-clouds day, run as users run them."""

import json
import xml.etree.ElementTree as ET

from test_cli import CLOUDY, sunshift

MODE = "evcc.loadpoints.1.mode"


def changes(text):
    return [json.loads(line) for line in text.splitlines()]


def test_sim_on_a_scenario_prints_changes_and_the_days_figures(tmp_path):
    out = tmp_path / "sunny.jsonl"
    r = sunshift("sim", "--rules", "rules", "--scenario", "sunny", "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = changes(out.read_text())
    assert [d["value"] for d in lines if d["target"] == MODE][:2] == ["off", "pv"]
    figures = json.loads((tmp_path / "sunny.summary.json").read_text())
    assert figures["changes"][MODE] == len([d for d in lines if d["target"] == MODE])
    assert figures["produced_kwh"] > 50 and 0 < figures["self_consumption"] < 1
    assert abs(figures["produced_kwh"] - figures["self_consumed_kwh"] - figures["exported_kwh"]) < 0.002
    assert sum(figures["time_in_value_s"][MODE].values()) == figures["span_s"]
    assert "simulated 23h59m50s (8640 steps" in r.stderr
    assert "  self-consumed   " in r.stderr and "evcc.loadpoints.1.mode: %d changes" % figures["changes"][MODE] in r.stderr


def test_summary_can_go_to_a_file_of_its_own(tmp_path):
    where = tmp_path / "figures.json"
    r = sunshift("sim", "--rules", "rules", "--trace", CLOUDY, "--start", "2026-06-21T06:00", "--summary", str(where), "-q")
    assert r.returncode == 0 and r.stderr == ""
    figures = json.loads(where.read_text())
    # The cloudy trace has no production column: only grid figures.
    assert figures["produced_kwh"] is None and figures["exported_kwh"] > 0
    # Its Envoy is silent from 12:30 to 12:36: 6 minutes not counted.
    assert figures["unmeasured_s"] == 370


def test_an_exported_scenario_replays_to_the_same_decisions(tmp_path):
    trace = tmp_path / "broken.csv"
    r = sunshift("scenario", "broken_clouds", "--rules", "rules", "--out", str(trace))
    assert r.returncode == 0, r.stderr
    text = trace.read_text()
    assert text.startswith("# sunshift scenario broken_clouds")
    assert "\nt,envoy.production,envoy.total_consumption,envoy.net_consumption," in text
    loop = sunshift("sim", "--rules", "rules", "--scenario", "broken_clouds")
    replay = sunshift("sim", "--rules", "rules", "--trace", str(trace))
    assert loop.returncode == 0 and replay.returncode == 0
    assert replay.stdout == loop.stdout and len(changes(loop.stdout)) > 4


def test_without_rules_the_export_is_the_open_loop_day(tmp_path):
    r = sunshift("scenario", "sunny")
    assert r.returncode == 0
    rows = [line.split(",") for line in r.stdout.splitlines() if not line.startswith("#")]
    header = rows[0]
    power = header.index("evcc.loadpoints.1.chargePower")
    assert len(rows) == 8641 and all(row[power] == "0" for row in rows[1:])
    assert sunshift("scenario", "--list").stdout.splitlines()[0].startswith("broken_clouds  Broken clouds")


def test_the_picture_of_a_run(tmp_path):
    svg = tmp_path / "day.svg"
    out = tmp_path / "day.jsonl"
    r = sunshift("sim", "--rules", "rules", "--scenario", "broken_clouds", "--plot", str(svg), "--out", str(out))
    assert r.returncode == 0, r.stderr
    root = ET.fromstring(svg.read_text())
    marks = [e for e in root.iter() if e.get("class") == "change"]
    assert len(marks) == len(out.read_text().splitlines())
    text = " ".join(e.text or "" for e in root.iter())
    assert "time of day" in text and "kW" in text and "ev_surplus on > 1.4 kW" in text
    assert "picture: %s" % svg in r.stderr


def test_the_example_rule_switches_far_less_than_a_naive_one(tmp_path):
    # docs/benchmarks.md quotes these figures; this recomputes them.
    naive = tmp_path / "naive.rules"
    naive.write_text("rule naive\n  when surplus > 1.4kW\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode = off\n")
    figures = {}
    for name, rules in (("naive", ["rules/site.rules", str(naive)]), ("example", ["rules"])):
        where = tmp_path / (name + ".json")
        r = sunshift("sim", "--rules", *rules, "--scenario", "broken_clouds", "--summary", str(where), "-q")
        assert r.returncode == 0, r.stderr
        figures[name] = json.loads(where.read_text())
    naive_changes = figures["naive"]["changes"][MODE]
    example_changes = figures["example"]["changes"][MODE]
    assert naive_changes >= 5 * example_changes, (naive_changes, example_changes)
    assert figures["example"]["self_consumption"] >= figures["naive"]["self_consumption"] - 0.05


def test_trace_columns_that_look_misspelt_are_pointed_at(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("t,envoy.net_consumptoin,evcc.loadpoints.1.chargePower\n0,-3000,0\n")
    r = sunshift("sim", "--rules", "rules", "--trace", str(trace))
    assert r.returncode == 0
    assert "%s:1:3: warning: no rule reads 'envoy.net_consumptoin'; did you mean envoy.net_consumption?" % trace in r.stderr
    assert "no column for envoy.net_consumption, which the rules read; rules that need it stay in their safe branch" in r.stderr
    assert "(the column 'envoy.net_consumptoin' is close: a typo?)" in r.stderr


def test_a_bad_trace_writes_no_half_result(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("t,envoy.net_consumption\n0,-3000\n10,-3000\n5,-3000\n")
    out = tmp_path / "out.jsonl"
    r = sunshift("sim", "--rules", "rules", "--trace", str(trace), "--out", str(out))
    assert r.returncode == 1
    assert "%s:4:1: time goes backwards: 5 after 10" % trace in r.stderr
    assert not out.exists() and r.stdout == ""


def test_scenario_usage_errors():
    r = sunshift("sim", "--rules", "rules", "--scenario", "rainy")
    assert r.returncode == 2 and "no scenario 'rainy' (choices: broken_clouds, spring_prices, sunny, winter, winter_prices)" in r.stderr
    r = sunshift("sim", "--rules", "rules", "--scenario", "sunny", "--trace", CLOUDY)
    assert r.returncode == 2 and "either --trace FILE.csv or --scenario NAME" in r.stderr
    r = sunshift("sim", "--rules", "rules", "--scenario", "sunny", "--step", "0s")
    assert r.returncode == 2 and "--step needs a duration from 1s to 10m" in r.stderr
