"""evcc's tariffs as forecasts: read over REST (GET /api/tariff/<type>) and over
MQTT (site/forecast/<type>) from the evcc simulator, their faults, and a rule
that charges the car in the cheapest hours run end to end against the
simulators with the real Runner."""

import itertools
import json

from conftest import pump
from harness import Site
from simulators.evcc import EvccSimulator

from sunshift import port
from sunshift.cpython.mqtt import Client
from sunshift.devices.evcc import Evcc
from sunshift.devices.evcc_mqtt import EvccMqtt
from sunshift.forecast import Forecast

HOUR = 3600
DAY = 86400
# 2026-01-14 18:00 UTC: a winter evening.
EVENING = 1768413600
# Hourly grid prices from 18:00: the evening peak, a cheap night, the morning peak.
PRICES = (0.45, 0.39, 0.33, 0.30, 0.28, 0.27, 0.24, 0.19, 0.17, 0.18, 0.21, 0.29, 0.38, 0.40, 0.33, 0.29, 0.27, 0.26, 0.26, 0.28, 0.31, 0.37, 0.44, 0.47)
_ids = itertools.count()


def hourly(first=EVENING, prices=PRICES):
    return [(first + h * HOUR, first + (h + 1) * HOUR, p) for h, p in enumerate(prices)]


class Log:
    def __init__(self):
        self.lines = []

    def warn(self, source, text):
        self.lines.append("%s: %s" % (source, text))


def reader(sim, *wanted, **options):
    log = Log()
    evcc = Evcc("evcc", sim.url, log=log, **options)
    evcc.wanted = wanted
    return evcc, log


def test_a_tariff_is_read_as_a_forecast_with_its_times_and_offsets():
    with EvccSimulator() as sim:
        sim.set_tariff("grid", hourly())
        sim.offset = 3600  # evcc writes the site's local time: 2026-01-14T19:00:00+01:00
        evcc, log = reader(sim, "evcc.tariff.grid", "evcc.site.currency")
        signals = evcc.poll()
    fc = signals["evcc.tariff.grid"]
    assert isinstance(fc, Forecast) and len(fc) == 24
    assert fc.starts[0] == EVENING and fc.ends[-1] == EVENING + DAY
    assert abs(fc.at(EVENING + 8 * HOUR + 5) - 0.17) < 1e-9
    assert sim.tariff_gets == ["grid"] and log.lines == []
    assert signals["evcc.site.currency"] == "EUR"  # the state's other values the rules read are there as ever


def test_old_evcc_answers_with_result_and_price():
    with EvccSimulator(wrap_result=True) as sim:
        sim.rate_key = "price"  # evcc before 0.203
        sim.set_tariff("feedin", [(EVENING, EVENING + DAY, 0.08)])
        evcc, _ = reader(sim, "evcc.tariff.feedin")
        fc = evcc.poll()["evcc.tariff.feedin"]
    assert len(fc) == 1 and abs(fc.values[0] - 0.08) < 1e-9


def test_only_the_tariffs_the_rules_read_and_only_every_tariff_poll():
    with EvccSimulator() as sim:
        sim.set_tariff("grid", hourly())
        sim.set_tariff("co2", hourly(prices=[400] * 24))
        evcc, _ = reader(sim, "evcc.tariff.grid", "evcc.loadpoints.1.mode", tariff_every=3)
        got = [("evcc.tariff.grid" in evcc.poll()) for _ in range(7)]
    assert got == [True, False, False, True, False, False, True]
    assert sim.tariff_gets == ["grid", "grid", "grid"]
    assert Evcc.tariff_polls({"poll": 10, "tariff_poll": 900}) == 90 and Evcc.tariff_polls({"poll": 5}) == 180


def test_a_tariff_evcc_lacks_or_fails_is_logged_and_the_state_stands():
    with EvccSimulator() as sim:
        evcc, log = reader(sim, "evcc.tariff.grid", "evcc.tariff.planner", "evcc.loadpoints.1.mode", "evcc.site.grid.power")
        signals = evcc.poll()
        assert "evcc.tariff.grid" not in signals and signals["evcc.loadpoints.1.mode"] == "off"
        assert log.lines == [
            "evcc: evcc GET /api/tariff/grid: evcc has no grid tariff: tariff not available; evcc.tariff.grid keeps the forecast it has",
            "evcc: evcc GET /api/tariff/planner: evcc has no planner tariff: tariff not available; evcc.tariff.planner keeps the forecast it has",
        ]
        sim.set_tariff("grid", hourly())  # planner falls back to grid, as evcc's does
        assert len(evcc.poll()["evcc.tariff.planner"]) == 24
        for fault, said in (
            ((500, "text/html", b"<html><body>Internal Server Error</body></html>"), "the device failed (HTTP 500)"),
            ((200, "text/html", b"<html><body>evcc</body></html>"), "bad answer: not JSON but an HTML page"),
            ((200, "application/json", b'{"rates": [{"start": "2026-01-14T19:00:00+01:00"'), "bad answer:"),
            ((200, "application/json", b'{"rates": 5}'), "bad answer: no list of rates"),
            ((200, "application/json", b'{"rates": [{"start": "yesterday", "end": "today", "value": 0.3}]}'), "none of its 1 rates has a start"),
        ):
            sim.tariff_fault = fault
            log.lines = []
            signals = evcc.poll()
            assert "evcc.tariff.grid" not in signals and "evcc.site.grid.power" in signals
            assert said in log.lines[0] and "GET /api/tariff/grid" in log.lines[0], log.lines


def test_the_simulator_answers_as_evccs_tariff_handler():
    with EvccSimulator() as sim:
        assert sim.tariff_answer("weather")[2] == b'{"error": "weather does not belong to TariffUsage values"}'
        assert sim.tariff_answer("feedIn")[:2] == (404, "text/plain; charset=utf-8")
        sim.set_tariff("grid", hourly())
        body = json.loads(sim.tariff_answer("grid")[2])
        assert body["rates"][0] == {"start": "2026-01-14T19:00:00+01:00", "end": "2026-01-14T20:00:00+01:00", "value": 0.45}


def test_tariffs_over_mqtt_are_the_same_forecasts(broker):
    topic = "evcc-t%d" % next(_ids)
    with EvccSimulator(broker=("127.0.0.1", broker.port), topic=topic, interval=0.2) as sim:
        sim.set_tariff("grid", hourly())
        sim.set_tariff("feedin", [(EVENING, EVENING + DAY, 0.08)])
        client = Client("127.0.0.1", broker.port, "test-t%d" % next(_ids))
        evcc = EvccMqtt("evcc", mqtt=client, topic=topic)
        evcc.wanted = ("evcc.tariff.grid", "evcc.tariff.feedin")
        seen = {}
        assert pump(client, [evcc], lambda: seen.update(evcc.poll()) or len(seen) == 2)
        rest, _ = reader(sim, "evcc.tariff.grid")
        fc = rest.poll()["evcc.tariff.grid"]
        assert seen["evcc.tariff.grid"].same(fc)
        assert abs(seen["evcc.tariff.feedin"].values[0] - 0.08) < 1e-9
        client.close()


CAR = """
# Charge the car in the cheapest 3 hours before 07:00, never above 0.30/kWh.
rule car_cheap
  when cheapest(evcc.tariff.grid, 3h, before 07:00) and evcc.tariff.grid <= 0.30/kWh
  then evcc.loadpoints.1.mode = now
  else evcc.loadpoints.1.mode = off
"""


def test_the_car_charges_in_the_cheapest_3_hours_before_7_end_to_end(tmp_path, broker):
    """The real Runner against the simulators over loopback, on a virtual night:
    each turn moves the wall clock and the engine's clock on by 5 minutes."""
    site = Site(tmp_path, broker, CAR, "rest", poll=0.05, stale=DAY)
    try:
        site.evcc.set_tariff("grid", hourly())
        virtual = [EVENING]
        site.evcc.clock = lambda: virtual[0]
        site.runner.wall = lambda: virtual[0]
        changes = []
        while virtual[0] < EVENING + 14 * HOUR:
            site.runner.step(virtual[0], virtual[0] % DAY)  # the site's time zone is UTC
            mode = site.evcc.loadpoint(1)["mode"]
            if not changes or changes[-1][1] != mode:
                changes.append((port.format_utc(virtual[0])[11:16], mode))
            port.sleep_ms(15)
            virtual[0] += 300
        # The cheapest three hours before 07:00 are 01:00-04:00 (0.19, 0.17, 0.18).
        assert changes == [("18:00", "off"), ("01:00", "now"), ("04:00", "off")], changes
        assert [w[2] for w in site.mode_writes("now")] == ["now"]
        said = "evcc.tariff.grid 0.19 €/kWh is among the cheapest 3h before 07:00 (cut-off 0.19 €/kWh)"
        assert any(said in line for line in site.lines), "\n".join(site.lines)
        assert site.evcc.tariff_gets[:1] == ["grid"]
    finally:
        site.stop()


def test_over_mqtt_with_evccs_url_the_tariffs_come_over_rest(broker):
    """What a board does: its MQTT client drops evcc's forecast messages (too large),
    so with a url the adapter reads the tariffs with GET /api/tariff/<type>, every
    tariff_poll, and leaves the forecast topics alone."""
    topic = "evcc-u%d" % next(_ids)
    with EvccSimulator(broker=("127.0.0.1", broker.port), topic=topic, interval=0.2) as sim:
        sim.set_tariff("grid", hourly())
        client = Client("127.0.0.1", broker.port, "test-u%d" % next(_ids))
        log = Log()
        evcc = EvccMqtt.build("evcc", {"topic": topic, "url": sim.url, "tariff_poll": 600}, mqtt=client, log=log)
        evcc.wanted = ("evcc.tariff.grid", "evcc.site.pvPower")
        seen = {}
        assert pump(client, [evcc], lambda: seen.update(evcc.poll()) or len(seen) == 2)
        assert len(seen["evcc.tariff.grid"]) == 24 and sim.tariff_gets == ["grid"]
        pump(client, [evcc], lambda: seen.update(evcc.poll()) and False, timeout=0.6)
        assert sim.tariff_gets == ["grid"]  # not again before tariff_poll
        assert log.lines == []
        client.close()


def test_read_shows_the_tariffs_evcc_has():
    from test_cli import sunshift

    with EvccSimulator() as sim:
        sim.set_tariff("grid", hourly())
        r = sunshift("read", "evcc", "--url", sim.url)
    assert r.returncode == 0, r.stderr
    line = [line for line in r.stdout.splitlines() if "evcc.tariff.grid" in line]
    assert line == ['  "evcc.tariff.grid": {"slots": 24, "from": "2026-01-14 18:00:00 UTC", "to": "2026-01-15 18:00:00 UTC", "lowest": 0.17, "highest": 0.47},']
    assert "evcc.tariff.co2" not in r.stdout  # evcc has no such tariff: left out without a word
    assert sim.tariff_gets == ["grid", "feedin", "planner", "co2", "solar"]
