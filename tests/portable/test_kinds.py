"""The table of device kinds and the names each adapter declares (devices/kinds.py,
devices/adapter.py): what config, the runner, the deploy and the docs read."""

from sunshift.devices import kinds
from sunshift.devices.adapter import Adapter, fits
from sunshift.errors import DeviceError, ModuleMissing, ValueRefused
from support import raises


def example(pattern, choices):
    """A name that fits ``pattern``: <n> is 1, <name> is x, a choice its first word, * is a.b."""
    parts = []
    for part in pattern.split("."):
        if part == "*":
            parts += ["a", "b"]
        elif part.endswith("<n>"):
            parts.append(part[:-3] + "1")
        elif part == "<name>":
            parts.append("x")
        elif part.startswith("<"):
            parts.append(next(words for name, words in choices if name == part[1:-1])[0])
        else:
            parts.append(part)
    return parts


def test_every_kind_has_its_adapter_and_says_what_it_offers():
    assert kinds.names() == ["envoy", "evcc", "emsesp", "enode"]
    for kind in kinds.names():
        for transport in ("rest", "mqtt"):
            cls = kinds.adapter_class(kind, transport)
            assert issubclass(cls, Adapter) and cls.kind == kind
            assert cls.transport == ("mqtt" if len(kinds.modules(kind, transport)) == 2 else "rest")
        assert cls.SIGNALS and cls.CONFIG_KEYS and cls.POLL > 0 and cls.TIMEOUT > 0  # the schema: tests/portable/test_config.py
        for pattern, unit in cls.SIGNALS:
            assert unit in ("W", "kW", "Wh", "%", "°C", "A", "s", "/kWh", "g/kWh", "", "bool", "text", "any"), (kind, pattern, unit)
            assert fits(pattern, example(pattern, cls.CHOICES), cls.CHOICES), (kind, pattern)
        for pattern, value in cls.TARGETS:
            assert cls.setting(example(pattern, cls.CHOICES)) == (pattern, value), (kind, pattern)


def test_patterns():
    assert fits("loadpoints.<n>.mode", ["loadpoints", "2", "mode"])
    assert not fits("loadpoints.<n>.mode", ["loadpoints", "two", "mode"])
    assert fits("production.L<n>", ["production", "L3"]) and not fits("production.L<n>", ["production", "X3"])
    assert fits("<device>.*", ["boiler", "dhw", "seltemp"], (("device", ("boiler",)),))
    assert not fits("<device>.*", ["boiler"], (("device", ("boiler",)),))
    assert not fits("<device>.*", ["kettle", "temp"], (("device", ("boiler",)),))
    assert not fits("site.pvPower", ["site", "pvPower", "x"])


def test_the_targets_table_is_what_a_write_checks():
    evcc = kinds.adapter_class("evcc")
    assert evcc.setting(["loadpoints", "1", "mode"]) == ("loadpoints.<n>.mode", "mode")
    assert evcc.setting(["loadpoints", "1", "charge_mode"]) is None
    assert evcc.check_value("evcc.loadpoints.1.mode", "mode", "PV") == "pv"
    e = raises(ValueRefused, evcc.check_value, "evcc.loadpoints.1.mode", "mode", "fast")
    assert "needs one of off pv minpv now smart, not 'fast'" in str(e)
    adapter = evcc("evcc", "http://evcc.local:7070", session=object())  # refused before any request
    e = raises(DeviceError, adapter.write, "evcc.loadpoints.1.charge_mode", "pv")
    assert "not a writable evcc setting" in str(e) and e.kind == "refused"
    enode = kinds.adapter_class("enode")
    raises(ValueRefused, enode.check_value, "enode.batteries.home.operationMode", "operationMode", "TURBO")
    assert enode.check_value("enode.hvacs.den.hold", "hold", "HEAT 21") == "HEAT 21"
    spec = {"aliases": {"batteries": {"home": "b1"}}}
    assert enode.instance_problem(["batteries", "home", "operationMode"], spec, False) is None
    assert "config names no battery 'garage'" in enode.instance_problem(["batteries", "garage", "operationMode"], spec, False)
    assert enode.setting(["batteries", "home", "charging"]) is None and "not a writable Enode setting" in enode.NOT_WRITABLE


def test_a_read_only_kind_says_so():
    envoy = kinds.adapter_class("envoy")
    assert envoy.TARGETS == () and envoy.setting(["mode"]) is None
    e = raises(DeviceError, envoy("roof", "http://envoy.local", session=object()).write, "roof.mode", "x")
    assert "the Envoy is read-only" in str(e)


def test_a_kind_the_table_does_not_list_and_a_module_the_board_lacks():
    raises(ValueError, kinds.adapter_class, "tesla")
    real = kinds.KINDS
    kinds.KINDS = real + (("kettle", "kettle", "Kettle", None, None),)
    try:
        e = raises(ModuleMissing, kinds.adapter_class, "kettle", "rest", "tea")
    finally:
        kinds.KINDS = real
    assert str(e).startswith("device 'tea' (kettle): its adapter is not installed here (") and str(e).endswith("; deploy again with this config")
