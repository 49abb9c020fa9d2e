"""`check` knows the devices: names, units and values checked against the table
of kinds before anything runs (lang/quantities.py, site/catalog.py)."""

from sunshift import units
from sunshift.errors import RuleError
from sunshift.lang import nodes
from sunshift.site.catalog import Catalog
from support import problems, raises, rules

SITE = {
    "envoy": {"type": "envoy"},
    "evcc": {"type": "evcc"},
    "heating": {"type": "emsesp", "devices": ["boiler"]},
    "enode": {"type": "enode", "aliases": {"vehicles": {"car": "v1"}}},
}


def load(text, devices=None):
    return rules(text, "t.rules", Catalog(devices))


def found(text, devices=None):
    """Every problem as 'line:col: [warning: ]message'."""
    return problems(text, "t.rules", Catalog(devices))


def errors(text, devices=None):
    """The errors alone (a rule's actions without an else give a warning too)."""
    return [p for p in found(text, devices) if ": warning: " not in p]


def rule(when, then="evcc.loadpoints.1.mode = pv", otherwise="evcc.loadpoints.1.mode = off"):
    return "rule r\n  when %s\n  then %s\n  else %s\n" % (when, then, otherwise)


def test_a_misspelt_signal_is_an_error_with_did_you_mean():
    assert found(rule("-envoy.net_consumtion > 1kW")) == ["2:9: envoy.net_consumtion is not a signal the Envoy offers; did you mean envoy.net_consumption?"]
    assert found(rule("envoy.production.L4 > 1kW")) == []  # a phase: any L<n>
    assert "did you mean evcc.loadpoints.1.chargePower" in found(rule("evcc.loadpoints.1.chargePowr > 1kW"))[0]
    # evcc has names beyond those listed: a warning, with the listed one it is near
    assert found(rule("evcc.site.pvPowr > 1kW")) == [
        "2:8: warning: evcc.site.pvPowr is not among the names docs/signals.md lists for evcc; did you mean evcc.site.pvPower?"
    ]
    assert "`read emsesp` shows whether yours offers it" in found(rule("emsesp.boiler.wwtemp > 50"))[0]
    assert "not a signal the EMS-ESP offers" in errors(rule("emsesp.boilr.dhw.curtemp > 50"))[0]
    assert found(rule("evcc.loadpoints.1.vehicleSoc < 40% and emsesp.boiler.dhw.curtemp < 55")) == []
    # Names of the user's own making (a custom entity) and a named forecast: no warning.
    assert found(rule("emsesp.custom.sgready == 1 and evcc.tariff.planner < 0.3")) == []
    # The Envoy's battery, energy counters and inverters are listed names with units.
    assert found(rule("envoy.battery.soc < 20% and envoy.production.today > 10kWh and envoy.inverters.1218.power > 100W")) == []
    assert "did you mean envoy.battery.soc" in errors(rule("envoy.battery.sco < 20%"))[0]


def test_a_target_no_device_has_and_a_value_it_would_refuse():
    assert found(rule("envoy.production > 1kW", otherwise="evcc.loadpoints.1.mode = fast")) == [
        "4:33: evcc would refuse this: evcc.loadpoints.1.mode needs one of off pv minpv now smart, not 'fast'"
    ]
    assert found(rule("envoy.production > 1kW", then="evcc.loadpoints.1.charge_mode = pv", otherwise="evcc.loadpoints.1.charge_mode = off")) == [
        "3:8: evcc.loadpoints.1.charge_mode is not a writable evcc setting; did you mean evcc.loadpoints.1.mode?",
        "4:8: evcc.loadpoints.1.charge_mode is not a writable evcc setting; did you mean evcc.loadpoints.1.mode?",
    ]
    assert "evcc.loadpoints.1.phases needs 0 (automatic), 1 or 3, not 2" in errors(rule("envoy.production > 1kW", then="evcc.loadpoints.1.phases = 2"))[0]
    assert "the Envoy is only read" in errors(rule("envoy.production > 1kW", then="envoy.production = 5"))[0]
    assert "needs true or false, not 'on'" in errors(rule("envoy.production > 1kW", then="evcc.site.batteryDischargeControl = on"))[0]
    assert errors(rule("envoy.production > 1kW", then="evcc.site.prioritySoc = 101")) == [
        "3:32: evcc would refuse this: evcc.site.prioritySoc needs a state of charge from 0 to 100, not 101"
    ]


def test_quantities_of_different_kinds_are_errors_that_say_which():
    assert found(rule("emsesp.boiler.dhw.curtemp < 55kW")) == ["2:34: cannot compare a temperature (emsesp.boiler.dhw.curtemp) with a power (55kW)"]
    assert found(rule("envoy.production > 1.4kWh")) == ["2:25: cannot compare a power (envoy.production) with an energy (1.4kWh)"]
    assert found(rule("envoy.production + emsesp.boiler.dhw.curtemp > 1kW")) == [
        "2:25: cannot add a power (envoy.production) and a temperature (emsesp.boiler.dhw.curtemp)"
    ]
    # through a let, and in a target's value
    text = "let s = -envoy.net_consumption\n" + rule("s > 20%")
    assert found(text) == ["3:10: cannot compare a power (s) with a percentage (20%)"]
    assert found(rule("envoy.production > 1kW", then="evcc.loadpoints.1.maxCurrent = 16kW", otherwise="evcc.loadpoints.1.maxCurrent = 6")) == [
        "3:39: evcc.loadpoints.1.maxCurrent takes a current (A), not a power (16kW)"
    ]
    assert (
        found(rule("envoy.production > 1kW", then="emsesp.boiler.dhw.seltemp = envoy.production", otherwise="emsesp.boiler.dhw.seltemp = 50")) == []
    )  # EMS-ESP's entities: any value
    assert errors(rule("max(envoy.production, evcc.site.battery.soc) > 1kW"))[0].endswith("not the same kind of quantity")


def test_true_or_false_and_numbers_are_kept_apart():
    assert found(rule("evcc.loadpoints.1.vehicleSoc")) == [
        "2:8: 'when' needs a condition that is true or false; evcc.loadpoints.1.vehicleSoc is a percentage (compare it, like evcc.loadpoints.1.vehicleSoc > 0)"
    ]
    assert found(rule("evcc.loadpoints.1.charging > 5")) == ["2:35: cannot compare true or false (evcc.loadpoints.1.charging) with a plain number (5)"]
    assert "is a power, not true or false" in errors(rule("envoy.production and evcc.loadpoints.1.charging"))[0]
    assert found(rule("evcc.loadpoints.1.charging and not evcc.loadpoints.1.connected")) == []


def test_a_plain_number_takes_the_unit_of_what_it_is_compared_with():
    rs = load(rule("emsesp.boiler.dhw.curtemp < 55 and envoy.production > 1400"))
    when = rs.rules[0].when
    assert when[1][4] == units.TEMPERATURE and when[2][4] == units.POWER
    from sunshift.lang.expr import Evaluator

    class Store:
        def __init__(self):
            self.values = {"emsesp.boiler.dhw.curtemp": 49.1, "envoy.production": 2000}
            self.series = {}

    ev = Evaluator(Store())
    assert ev.explain(when, True) == "emsesp.boiler.dhw.curtemp 49.1 °C < 55 °C and envoy.production 2 kW > 1.4 kW"


def test_a_value_in_another_unit_than_the_device_takes_is_converted():
    rs = load(rule("envoy.production > 1kW", then="evcc.loadpoints.1.limitEnergy = 12.5kWh", otherwise="evcc.loadpoints.1.limitEnergy = 10"))
    assert rs.rules[0].then[0][1][1] == 12.5  # evcc takes kWh; 12.5kWh is 12500 Wh inside
    assert rs.rules[0].otherwise[0][1][1] == 10  # a plain number: in the unit evcc takes
    writers = rs.writers["evcc.loadpoints.1.limitEnergy"][0]
    assert writers[1] is rs.rules[0].then[0][1]  # the arbitration's table has the converted value
    rs = load(rule("envoy.production > 1kW", then="evcc.loadpoints.1.limitEnergy = evcc.site.pvEnergy", otherwise="evcc.loadpoints.1.limitEnergy = 0"))
    assert rs.rules[0].then[0][1][0] == nodes.SIG  # unknown kind: as given


def test_with_a_config_the_instances_are_checked():
    assert found(rule("heating.boiler.dhw.curtemp < 55", then="heating.boiler.dhw.seltemp = 60", otherwise="heating.boiler.dhw.seltemp = 50"), SITE) == []
    assert found(
        rule("heating.thermostat.hc1.currtemp < 20", then="heating.thermostat.hc1.seltemp = 21", otherwise="heating.thermostat.hc1.seltemp = 20"), SITE
    ) == ['2:8: heating.thermostat.hc1.currtemp: the config reads boiler from EMS-ESP, not thermostat: add "thermostat" to its "devices"']
    assert found(
        rule("enode.vehicles.van.chargeState.batteryLevel < 50%", then="enode.vehicles.car.charging = true", otherwise="enode.vehicles.car.charging = false"),
        SITE,
    ) == ["2:8: enode.vehicles.van.chargeState.batteryLevel: the config names no vehicle 'van' under vehicles (car)"]
    assert found(rule("emsesp.boiler.dhw.curtemp < 55", then="heating.boiler.dhw.seltemp = 60", otherwise="heating.boiler.dhw.seltemp = 50"), SITE) == [
        "2:8: the site has no device 'emsesp' (devices: enode, envoy, evcc, heating)"
    ]
    assert found(rule("evc.site.pvPower > 1kW"), SITE)[0] == "2:8: no device 'evc'; did you mean 'evcc'?"


def test_without_a_config_a_device_of_ones_own_naming_is_a_warning_once():
    text = rule("house.power > 1kW and house.export > 1kW", then="house.relay = true", otherwise="house.relay = false")
    assert found(text) == [
        "2:8: warning: no device 'house' among the default names (envoy, evcc, emsesp, enode); check --config site.json checks the names of your own devices"
    ]
    raises(RuleError, load, rule("envoy.net_consumtion > 1kW"))
