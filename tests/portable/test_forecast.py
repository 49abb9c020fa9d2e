"""Forecasts: slots, spans, the questions rules ask of them (cheapest, avg,
min, max, energy), evcc's rate slots and times, and a rule on a day of prices."""

from sunshift import forecast, units
from sunshift.site.catalog import Catalog
from support import Run, near, problems

HOUR = 3600
# Hourly grid prices from t=0 (18:00) for a day: cheap at night, negative at midday.
PRICES = (0.35, 0.33, 0.30, 0.28, 0.25, 0.22, 0.18, 0.15, 0.14, 0.16, 0.20, 0.26, 0.31, 0.29, 0.27, 0.10, 0.05, 0.0, -0.02, 0.05, 0.12, 0.25, 0.34, 0.36)
EVENING = 18 * HOUR


def hourly(values, first=0):
    return forecast.build([((first + h) * HOUR, (first + h + 1) * HOUR, v) for h, v in enumerate(values)])


def test_a_forecast_knows_the_slot_of_each_moment():
    fc = hourly((0.3, 0.2, 0.1))
    assert len(fc) == 3 and fc.first() == 0 and fc.last() == 3 * HOUR
    assert near(fc.at(0), 0.3) and near(fc.at(HOUR - 1), 0.3) and near(fc.at(HOUR), 0.2) and near(fc.at(3 * HOUR - 1), 0.1)
    assert fc.at(-1) is None and fc.at(3 * HOUR) is None
    assert [(k, s) for k, s in fc.overlaps(1800, 5400)] == [(0, 1800), (1, 1800)]


def test_slots_that_are_not_slots_are_left_out():
    b = forecast.Builder()
    b.add(0, 900, 0.3)
    b.add(900, 900, 0.2)  # no length
    b.add(900, 1800, float("nan"))
    b.add(900, 1800, "cheap")
    b.add(900, 1800, True)
    b.add(600, 1800, 0.1)  # overlaps the first
    b.add(None, 1800, 0.1)
    b.add(900, 1800, 0.25)
    assert b.skipped == 6
    fc = b.forecast()
    assert list(fc.starts) == [0, 900] and near(fc.values[1], 0.25)


def test_a_forecast_keeps_at_most_max_slots():
    fc = forecast.build([(k * 900, (k + 1) * 900, 0.1) for k in range(forecast.MAX_SLOTS + 10)])
    assert len(fc) == forecast.MAX_SLOTS


def test_rfc3339_times_with_offsets_and_fractions():
    assert forecast.unix_of("2026-06-21T08:00:00+02:00") == 1782021600
    assert forecast.unix_of("2026-06-21T06:00:00Z") == 1782021600
    assert forecast.unix_of("2026-06-21T06:00:00.123456789Z") == 1782021600
    assert forecast.unix_of("2024-02-29T23:59:59-05:30") == 1709270999
    assert forecast.unix_of("2026-12-31T23:00:00+00:00") + 3600 == forecast.unix_of("2027-01-01T00:00:00Z")
    for bad in ("2026-06-21", "2026-06-21T08:00:00", "2026-13-01T00:00:00Z", "2026-06-21T08:00:00+2", None, 17):
        assert forecast.unix_of(bad) is None, bad


def test_spans_next_before_and_windows():
    now = 1000
    tod = 23 * HOUR  # 23:00
    assert forecast.span("next", 3 * HOUR, 0, now, tod, False) == (now, now + 3 * HOUR)
    # before 07:00 at 23:00: eight hours from now; the whole window is the day that ends then.
    assert forecast.span("before", 7 * HOUR, 0, now, tod, False) == (now, now + 8 * HOUR)
    assert forecast.span("before", 7 * HOUR, 0, now, tod, True) == (now + 8 * HOUR - 86400, now + 8 * HOUR)
    # At 07:00 sharp the window that ended is gone: the next one ends a day later.
    assert forecast.span("before", 7 * HOUR, 0, now, 7 * HOUR, False) == (now, now + 86400)
    # 18:00-07:00 at 23:00: inside; it began five hours ago.
    assert forecast.span("between", 18 * HOUR, 7 * HOUR, now, tod, True) == (now - 5 * HOUR, now + 8 * HOUR)
    assert forecast.span("between", 18 * HOUR, 7 * HOUR, now, tod, False) == (now, now + 8 * HOUR)
    # At 10:00 outside: the next one, from 18:00.
    assert forecast.span("between", 18 * HOUR, 7 * HOUR, now, 10 * HOUR, True) == (now + 8 * HOUR, now + 21 * HOUR)
    assert forecast.span("before", 7 * HOUR, 0, now, None, False) is None


def test_average_lowest_highest_and_energy_over_a_span():
    fc = hourly((0.30, 0.20, 0.10))
    assert near(forecast.mean(fc, 0, 3 * HOUR), 0.2)
    assert near(forecast.mean(fc, 1800, 5400), 0.25)  # half an hour of each
    assert near(forecast.mean(fc, 2 * HOUR, 10 * HOUR), 0.1)  # only what is known counts
    assert forecast.mean(fc, 5 * HOUR, 6 * HOUR) is None
    assert near(forecast.extreme(fc, 0, 2 * HOUR, False), 0.2) and near(forecast.extreme(fc, 0, 2 * HOUR, True), 0.3)
    solar = hourly((0, 1000, 3000))
    assert near(forecast.energy(solar, 0, 3 * HOUR), 4000)  # Wh
    assert near(forecast.energy(solar, 5400, 3 * HOUR), 3500)


def test_cheapest_chooses_slots_anywhere_in_the_window_and_says_its_cut_off():
    fc = hourly(PRICES)
    end = 13 * HOUR  # 07:00, the window 18:00-07:00 from t=0
    chosen, cut = forecast.choose(fc, 3 * HOUR, 0, end)
    assert sorted(chosen) == [7, 8, 9] and near(cut, 0.16)
    assert forecast.cheapest(fc, 3 * HOUR, 0, end, 8 * HOUR) == (True, cut)
    assert forecast.cheapest(fc, 3 * HOUR, 0, end, 10 * HOUR)[0] is False
    # Outside the window: not chosen; beyond the forecast: unknown.
    assert forecast.cheapest(fc, 3 * HOUR, 0, end, 14 * HOUR) == (False, None)
    assert forecast.cheapest(fc, 3 * HOUR, 0, end, 30 * HOUR) is None
    # Ties go to the earlier slot.
    flat = hourly((0.2, 0.1, 0.1, 0.2))
    assert forecast.choose(flat, HOUR, 0, 4 * HOUR)[0] == [1]
    # A memo keeps the choice for the same forecast and window.
    memo = []
    forecast.cheapest(fc, 3 * HOUR, 0, end, 7 * HOUR, memo)
    assert memo[0] is fc and sorted(memo[3]) == [7, 8, 9]


def test_percentile_says_how_much_of_the_span_is_cheaper_than_now():
    fc = hourly((0.30, 0.10, 0.40, 0.20))
    assert forecast.percentile(fc, 0, 4 * HOUR, 10) == 50  # 0.10 and 0.20 are cheaper than 0.30
    assert forecast.percentile(fc, 0, 4 * HOUR, HOUR + 10) == 0
    assert forecast.percentile(fc, 0, 4 * HOUR, 2 * HOUR + 10) == 75
    assert forecast.percentile(fc, 0, 4 * HOUR, 5 * HOUR) is None
    run = Run("rule r\n  when percentile(evcc.tariff.grid, next 3h) < 25%\n  then a.b = 1\n  else a.b = 0\n", tod_start=0, catalog=Catalog())
    run.at(0, {"evcc.tariff.grid": fc})
    assert run.changes[-1].value == 0 and run.changes[-1].reason == "percentile(evcc.tariff.grid, next 3h) 33.3% >= 25%"
    assert run.at(HOUR) == [("a.b", 1)]


def test_cheapest_block_wants_one_piece():
    fc = hourly((0.30, 0.10, 0.40, 0.12, 0.13, 0.50))
    # Two cheapest hours anywhere: 1 and 3; in one piece: 3-4 (0.125 on average).
    assert sorted(forecast.choose(fc, 2 * HOUR, 0, 6 * HOUR)[0]) == [1, 3]
    assert forecast.cheapest_block(fc, 2 * HOUR, 0, 6 * HOUR, 3 * HOUR + 5) == (True, 0.125, 3 * HOUR, 5 * HOUR)
    assert forecast.cheapest_block(fc, 2 * HOUR, 0, 6 * HOUR, HOUR + 5)[0] is False


def test_a_window_past_stays_known_when_a_device_sends_only_what_lies_ahead():
    first = hourly((0.3, 0.2, 0.1, 0.4))
    later = hourly((0.1, 0.4, 0.5), 2)  # read at 02:00: from the slot of now on
    merged = forecast.with_past(later, first, 2 * HOUR)
    assert list(merged.starts) == [0, HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR]
    # A day later the old slots are gone.
    assert forecast.with_past(later, first, 30 * HOUR).first() == 2 * HOUR
    moved = forecast.shifted(first, -100)
    assert moved.starts[0] == -100 and first.starts[0] == 0  # a copy: the device's own stays as it was


def test_evcc_rates_as_json():
    text = (
        '[{"start": "2026-06-21T08:00:00+02:00", "end": "2026-06-21T08:15:00+02:00", "value": 0.31},'
        ' {"start": "2026-06-21T08:15:00+02:00", "end": "2026-06-21T08:30:00+02:00", "price": 0.29}]'
    )
    fc = forecast.from_json(text)
    assert list(fc.starts) == [1782021600, 1782022500] and near(fc.values[1], 0.29)
    fc = forecast.from_json("[[1782021600, 1782022500, 0.31], [1782022500, 1782023400, 0.29]]")
    assert len(fc) == 2
    # A solar time series: points, each lasting until the next.
    fc = forecast.from_json('[{"ts": "2026-06-21T06:00:00Z", "val": 1200}, {"ts": "2026-06-21T07:00:00Z", "val": 2500}]')
    assert list(fc.ends) == [1782025200, 1782028800] and near(fc.values[1], 2500)
    assert forecast.from_json("<html>") is None and forecast.from_json('{"rates": 1}') is None


CAR = """
rule car
  when cheapest(evcc.tariff.grid, 3h, before 07:00) and evcc.tariff.grid <= 0.30/kWh
  then evcc.loadpoints.1.mode = now
  else evcc.loadpoints.1.mode = off
"""


def test_a_rule_charges_in_the_cheapest_hours_and_says_why():
    units.set_currency(None)  # an evcc read earlier in the process may have set it
    run = Run(CAR, tod_start=EVENING)
    assert run.hold(0, 600, 600, {}) == [(600, "evcc.loadpoints.1.mode", "off")]  # no prices: its safe branch
    assert run.changes[0].reason == "stale: evcc.tariff.grid has no value yet"
    fc = hourly(PRICES)
    run = Run(CAR, tod_start=EVENING, catalog=Catalog())  # checked against the devices: the price's unit is known
    run.at(0, {"evcc.tariff.grid": fc})
    out = run.hold(600, 13 * HOUR, 600, {})
    assert out == [(7 * HOUR, "evcc.loadpoints.1.mode", "now"), (10 * HOUR, "evcc.loadpoints.1.mode", "off")]
    on = run.last("evcc.loadpoints.1.mode") and run.changes[1]
    assert on.reason == ("evcc.tariff.grid 0.15 /kWh is among the cheapest 3h before 07:00 (cut-off 0.16 /kWh) and evcc.tariff.grid 0.15 /kWh <= 0.3 /kWh"), (
        on.reason
    )
    assert run.changes[2].reason == "evcc.tariff.grid 0.2 /kWh is not among the cheapest 3h before 07:00 (cut-off 0.16 /kWh)"


def test_the_price_reads_in_the_currency_evcc_reports():
    units.set_currency("EUR")
    try:
        assert units.format_value(0.125, units.PRICE) == "0.125 €/kWh"
        assert units.format_value(1.5, units.PRICE) == "1.5 €/kWh"
    finally:
        units.set_currency(None)
    assert units.format_value(0.125, units.PRICE) == "0.125 /kWh"
    assert units.format_value(412.4, units.CO2) == "412 g/kWh"


def test_a_forecast_is_fresh_while_it_has_a_slot_for_now():
    run = Run(CAR, tod_start=EVENING)
    run.at(0, {"evcc.tariff.grid": hourly(PRICES)})
    run.hold(600, 24 * HOUR - 600, 600, {})
    assert run.state("car") == "inactive"
    run.at(24 * HOUR + 60)
    assert run.events[-1] == (24 * HOUR + 60, "car", "safe: stale: evcc.tariff.grid has no slot for now (its forecast ended 1m ago)"), run.events[-1]


def test_a_forecast_function_on_a_plain_signal_is_an_error_at_run_time():
    run = Run("rule r\n  when avg(envoy.production, next 1h) > 1kW\n  then a.b = 1\n  else a.b = 0\n", tod_start=0)
    run.at(0, {"envoy.production": 1200})
    assert "envoy.production is not a forecast" in run.changes[0].reason


def test_units_of_prices():
    assert problems("rule r\n  when evcc.tariff.grid < 30ct/kWh\n  then a.b = 1\n  else a.b = 0\n") == []
    rs = Run("rule r\n  when evcc.tariff.grid < 30ct/kWh\n  then a.b = 1\n  else a.b = 0\n").rs
    assert near(rs.rules[0].when[3][1], 0.3)
    from sunshift.lang import nodes

    assert nodes.unparse(rs.rules[0].when) == "evcc.tariff.grid < 30ct/kWh"


def test_spans_and_forecast_functions_in_the_language():
    from sunshift.lang import nodes

    when = "cheapest(evcc.tariff.grid, 2h30m, 22:00-06:00) or avg(evcc.tariff.grid, next 3h) < 0.2 or energy(evcc.tariff.solar, before 24:00) > 5kWh"
    text = "rule r\n  when " + when + "\n  then a.b = 1\n  else a.b = 0\n"
    rs = Run(text).rs
    assert nodes.unparse(rs.rules[0].when) == (
        "cheapest(evcc.tariff.grid, 2h30m, 22:00-06:00) or avg(evcc.tariff.grid, next 3h) < 0.2 or energy(evcc.tariff.solar, before 24:00) > 5kWh"
    )


def test_forecast_functions_say_what_is_wrong_where():
    def one(when):
        found = problems("rule r\n  when %s\n  then a.b = 1\n  else a.b = 0\n" % when)
        assert found, when
        return found[0]

    assert one("cheapest(evcc.tariff.grid, before 07:00)") == (
        "2:8: cheapest takes a forecast, a duration and a span (next 3h, before 07:00 or 22:00-07:00), like cheapest(evcc.tariff.grid, 3h, before 07:00)"
    )
    assert one("cheapest(evcc.tariff.grid, 3h, next 2h)") == "2:8: cheapest of 3h cannot fit in the next 2h"
    assert one("avg(evcc.tariff.grid, next 0s) > 1") == "2:35: 'next' needs a duration above zero, like next 3h, got the number 0s"
    assert one("avg(evcc.tariff.grid, before 7h) > 1").startswith("2:37: 'before' needs a time of day, like before 07:00")
    assert one("cheapest(evcc.tariff.grid, 3h, 07:00-07:00)").startswith("2:39: 07:00-07:00 is no window")
    assert one("cheapest(surplus, 3h, before 07:00)").startswith("2:8: cheapest looks ahead in a device's forecast")
    assert one("energy(evcc.tariff.solar, next 1h, 2)") == "2:41: the span (next 1h) is the last thing energy takes"
    assert one("abs(evcc.tariff.grid, next 1h) > 1").startswith("2:8: abs takes no span; the functions that look ahead")


def test_a_remembered_answer_is_the_answer_computed_afresh():
    """cheapest and cheapest_block remember their answer until a slot or a window
    edge passes (lang/expr.py): at every moment it is what a new evaluator says."""
    from sunshift.core.signals import Signals
    from sunshift.host.scenarios import Lcg
    from sunshift.lang.expr import Evaluator

    rnd = Lcg(42)
    texts = ("cheapest(f.p, 2h, before 07:00)", "cheapest(f.p, 45m, next 4h)", "cheapest_block(f.p, 1h30m, 22:00-06:00)", "cheapest(f.p, 1h, 10:00-14:00)")
    for _ in range(4):
        slots = []
        t = -int(rnd.between(0, 20 * HOUR))
        while len(slots) < 60:
            length = 900 * int(rnd.between(1, 5))
            slots.append((t, t + length, round(rnd.between(-0.1, 0.5), 3)))
            t += length + (900 if rnd.random() < 0.1 else 0)  # now and then a gap
        signals = Signals()
        signals.forecasts["f.p"] = forecast.build(slots)
        start = int(rnd.between(0, 86400))
        for text in texts:
            node = Run("rule r\n  when %s\n  then a.b = 1\n  else a.b = 0\n" % text).rs.rules[0].when
            kept = Evaluator(signals)
            now = -3 * HOUR
            while now < 20 * HOUR:
                kept.now = now
                kept.tod = (start + now) % 86400
                fresh = Evaluator(signals)
                fresh.now, fresh.tod = kept.now, kept.tod
                assert kept.value(node) == fresh.value(node), (text, now)
                now += int(rnd.between(1, 700))


def test_check_names_the_tariffs_evcc_has():
    def said(when):
        found = problems("rule r\n  when %s\n  then evcc.site.bufferSoc = 80\n  else evcc.site.bufferSoc = 90\n" % when, catalog=Catalog())
        return found[0] if found else None

    tariffs = "evcc has no such tariff (it has grid, feedin, planner, co2, solar)"
    assert said("evcc.tariff.gird < 0.2") == "2:8: evcc.tariff.gird: %s; did you mean evcc.tariff.grid?" % tariffs
    assert said("evcc.tariff.price < 0.2") == "2:8: evcc.tariff.price: %s" % tariffs
    not_one = "evcc.site.tariffGrid is not a forecast; cheapest looks ahead in one, like evcc.tariff.grid"
    assert said("cheapest(evcc.site.tariffGrid, 2h, before 06:00)") == "2:8: " + not_one
    assert said("evcc.site.tariffGrid < 0.2 and evcc.tariff.co2 < 400g/kWh") is None
