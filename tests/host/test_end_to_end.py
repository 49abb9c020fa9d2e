"""The test that matters: engine + adapters + simulators + a real Mosquitto, in real time.

The Envoy's export rises: evcc gets solar charging (once) and EMS-ESP the
hot-water setpoint (with its token).  Export falls: both come back down after
the exit delay.  Export rises again, then the Envoy stops answering: both go
to their safe values within the staleness limit.  The Envoy answers again: the
engine carries on with no restart.  Run once with evcc over REST, once over MQTT.
"""

import time

import pytest
from harness import Site

RULES = """
let surplus = -envoy.net_consumption
rule ev "Car from surplus"
  when surplus > 1.4kW for 1s
  until surplus < 300W for 2s
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
rule water "Hot water from surplus"
  when surplus > 2.5kW for 1s
  until surplus < 300W for 2s
  then emsesp.boiler.dhw.seltemp = 60
  else emsesp.boiler.dhw.seltemp = 50
"""
STALE = 2.0
POLL = 0.2


@pytest.mark.parametrize("evcc_transport", ["rest", "mqtt"])
def test_surplus_up_down_stale_and_back(tmp_path, broker, evcc_transport):
    site = Site(tmp_path, broker, RULES, evcc_transport, POLL, STALE)
    try:
        mode = lambda: site.evcc.loadpoint(1)["mode"]  # noqa: E731
        seltemp = lambda: site.ems.value("boiler", "dhw", "seltemp")  # noqa: E731

        # Start: importing. The devices already hold the rules' safe values (evcc
        # "off", 50 °C), read back at start: nothing is written but what differs.
        site.run_until(lambda: site.engine.started is not None and site.engine.written.get("emsesp.boiler.dhw.seltemp") == 50, 5)
        site.run_for(0.5)
        assert site.ems.writes == [] and mode() == "off"
        if evcc_transport == "rest":
            assert site.evcc.writes == []  # over MQTT the first values may come after the first decision: "off" is sent
        assert site.ems.requests[-1].bearer() == "ems-token"

        # Export rises to 3.2 kW: after `for 1s`, solar charging and 60 °C.
        site.envoy.set_power(production=4000, consumption=800)
        site.run_until(lambda: mode() == "pv" and seltemp() == 60, 5)
        site.run_for(1.5)
        assert len(site.mode_writes("pv")) == 1, "evcc got the mode change more than once"
        assert site.evcc.writes[-1][0] == evcc_transport
        assert [w for w in site.ems.writes if w[2] == 60] == [("rest", "emsesp.boiler.dhw.seltemp", 60)]

        # Export falls: both come down after the exit delay (2 s), not before.
        fell = time.monotonic()
        site.envoy.set_power(production=400, consumption=800)
        site.run_until(lambda: mode() == "off" and seltemp() == 50, 6)
        assert time.monotonic() - fell >= 2.0

        # Export again, then the Envoy stops answering: safe values within the limit.
        site.envoy.set_power(production=4000, consumption=800)
        site.run_until(lambda: mode() == "pv" and seltemp() == 60, 5)
        site.envoy.fail("refuse")
        took = site.run_until(lambda: mode() == "off" and seltemp() == 50, 6)
        assert took <= STALE + POLL + 0.5, took
        assert any("stale: envoy.net_consumption" in line for line in site.lines)
        assert len([line for line in site.lines if "connection refused" in line]) == 1, "a failure episode is logged once"

        # The Envoy answers again: the engine recovers by itself.
        site.envoy.heal()
        site.run_until(lambda: mode() == "pv" and seltemp() == 60, 6)
        assert any("envoy: answers again" in line for line in site.lines)
    finally:
        site.stop()
