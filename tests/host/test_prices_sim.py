"""Prices in the simulator, run as users run it: the dynamic-tariff scenarios,
the cost of a day, two rule sets compared (`sim --against`), forecast cells in
traces (written by `scenario`, read by `sim --trace`) and the price lane of the
picture."""

import json
import xml.etree.ElementTree as ET

from test_cli import sunshift

NS = "{http://www.w3.org/2000/svg}"
MODE = "evcc.loadpoints.1.mode"
# The done-when of issue 17, as a home owner writes it.
CAR = """
rule car_cheap "Charge the car in the cheapest 3 hours before 07:00, never above 0.30/kWh"
  when cheapest(evcc.tariff.grid, 3h, before 07:00) and evcc.tariff.grid <= 0.30/kWh
       and evcc.loadpoints.1.connected and evcc.loadpoints.1.vehicleSoc < 80%
  then evcc.loadpoints.1.mode = now
  else evcc.loadpoints.1.mode = off
"""


def test_the_cheapest_hours_rule_is_checked_and_simulated_with_its_cost(tmp_path):
    rules = tmp_path / "car.rules"
    rules.write_text(CAR)
    r = sunshift("check", "--config", "examples/site.json", str(rules))
    assert r.returncode == 0 and "ok: 1 rule, 0 lets in 1 file" in r.stdout, r.stdout + r.stderr
    r = sunshift("sim", "--rules", str(rules), "--scenario", "winter_prices", "--summary", str(tmp_path / "day.json"))
    assert r.returncode == 0, r.stderr
    changes = [json.loads(line) for line in r.stdout.splitlines()]
    on = [c for c in changes if c["target"] == MODE and c["value"] == "now"]
    # 02:00: the cheapest three hours before 07:00 are 02:00-05:00; the car is full at 04:26.
    assert [c["t"] for c in on] == [7200.0], changes
    assert "is among the cheapest 3h before 07:00 (cut-off" in on[0]["reason"] and "€/kWh" in on[0]["reason"]
    figures = json.loads((tmp_path / "day.json").read_text())
    assert 10 < figures["import_cost"] < 30 and figures["export_value"] == 0 and figures["unpriced_kwh"] == 0
    assert abs(figures["net_cost"] - figures["import_cost"] + figures["export_value"]) < 0.002
    assert "  import cost     €%.2f" % figures["import_cost"] in r.stderr
    assert "  into the car    27.0 kWh" in r.stderr


def test_the_price_rules_cost_less_than_the_same_loads_without_prices():
    r = sunshift("sim", "--rules", "rules/prices/", "--scenario", "winter_prices", "--against", "examples/no-prices/", "-q")
    assert r.returncode == 0, r.stderr
    rows = {}
    for line in r.stderr.splitlines()[r.stderr.splitlines().index("compared with examples/no-prices/:") + 2 :]:
        words = line.split()
        rows[" ".join(words[:2])] = words
    assert rows["into the"][3] == rows["into the"][5], "the car gets the same energy"
    ours, theirs = float(rows["net cost"][2][1:]), float(rows["net cost"][3][1:])
    assert ours < theirs * 0.95, (ours, theirs)
    assert rows["net cost"][4].startswith("-€") and rows["net cost"][5].startswith("(-")


def test_a_scenario_with_prices_exports_forecast_cells_that_sim_reads_back(tmp_path):
    day = tmp_path / "winter.csv"
    r = sunshift("scenario", "winter_prices", "--rules", "rules/prices/", "--step", "60", "--out", str(day))
    assert r.returncode == 0, r.stderr
    lines = [line for line in day.read_text().splitlines() if not line.startswith("#")]
    assert lines[0].split(",")[-2:] == ["evcc.tariff.grid", "evcc.tariff.feedin"]
    first = lines[1].split(",")
    assert first[-2].startswith("@-86400+900: ") and len(first[-2].split(":")[1].split()) == 192
    published = [line for line in lines[1:] if line.split(",")[-2]]
    assert [p.split(",")[0] for p in published] == ["0", "46800"]  # at the start and at 13:00
    r = sunshift("sim", "--rules", "rules/prices/", "--trace", str(day))
    assert r.returncode == 0, r.stderr
    assert "import cost" in r.stderr and "no price for" not in r.stderr


def test_a_bad_forecast_cell_names_its_place(tmp_path):
    trace = tmp_path / "bad.csv"
    trace.write_text("t,evcc.tariff.grid\n0,@0+900: 0.3 cheap 0.2\n")
    r = sunshift("sim", "--rules", "rules/prices/", "--trace", str(trace))
    assert r.returncode == 1 and "bad.csv:2:3: 'cheap' in a forecast is not a number" in r.stderr, r.stderr
    trace.write_text("t,evcc.tariff.grid\n0,@0: 0.3\n")
    r = sunshift("sim", "--rules", "rules/prices/", "--trace", str(trace))
    assert r.returncode == 1 and "bad.csv:2:3: a forecast is runs of slots like" in r.stderr, r.stderr


def test_the_picture_has_a_price_lane_and_the_chosen_hours(tmp_path):
    svg = tmp_path / "day.svg"
    r = sunshift("sim", "--rules", "rules/prices/", "--scenario", "winter_prices", "--plot", str(svg), "-q")
    assert r.returncode == 0, r.stderr
    root = ET.fromstring(svg.read_text())
    texts = [e.text for e in root.iter(NS + "text")]
    axes = [e.text for e in root.iter() if e.get("class") == "axis-title"]
    assert "€/kWh" in axes and "car_cheap on <= 0.3 €/kWh" in texts
    assert "evcc.tariff.grid (€/kWh)" in texts
    # A lane for each cheapest() of the rules, shaded while it chose the hour (its full name is the hover title).
    lanes = [e.find(NS + "title").text for e in root.iter(NS + "text") if e.find(NS + "title") is not None]
    assert "cheapest 3h 18:00-07:00" in lanes and "cheapest 1h30m 07:00-18:00" in lanes
