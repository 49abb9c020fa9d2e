"""The kinds of device sunshift knows, and how to make an adapter for one.

This table is the single source of the kinds: the site config takes its types
from it and hands each entry to its adapter class to check; the runner and
`read` build adapters through :func:`build`; tools/board_files.py picks the
modules a board needs from it; tools/kinds_doc.py writes docs/signals.md's
table of names from the adapters' SIGNALS, TARGETS and VALUES; site/catalog.py
checks rules against the same.

Adding a kind is one entry here and one module: an Adapter subclass
(devices/adapter.py) with its names, config keys and defaults as class data.
"""

from ..errors import ModuleMissing

# (kind, module, adapter class, MQTT module, MQTT adapter class); the modules are
# in sunshift.devices.  A kind without an MQTT module is read only over HTTP.
# Modules are imported by name only when a site has such a device, so a board
# holds (and a deploy copies) only the adapters its site uses.
KINDS = (
    ("envoy", "envoy", "Envoy", None, None),
    ("evcc", "evcc", "Evcc", "evcc_mqtt", "EvccMqtt"),
    ("emsesp", "emsesp", "EmsEsp", "emsesp_mqtt", "EmsEspMqtt"),
    ("enode", "enode", "Enode", None, None),
)


def names():
    """Every kind, in the table's order."""
    return [entry[0] for entry in KINDS]


def _entry(kind):
    for entry in KINDS:
        if entry[0] == kind:
            return entry
    return None


def modules(kind, transport="rest"):
    """The modules (names in sunshift.devices) a device of ``kind`` over ``transport`` needs."""
    entry = _entry(kind)
    if entry is None:
        return []
    if transport == "mqtt" and entry[3] is not None:
        return [entry[1], entry[3]]
    return [entry[1]]


def adapter_class(kind, transport="rest", device=None):
    """The Adapter subclass of ``kind`` over ``transport`` (imported now), ValueError
    for a kind the table does not list, or ModuleMissing when its module is not
    on this board (it was deployed for another config)."""
    entry = _entry(kind)
    if entry is None:
        raise ValueError("unknown device type %r (one of %s)" % (kind, ", ".join(names())))
    module, name = entry[1], entry[2]
    if transport == "mqtt" and entry[3] is not None:
        module, name = entry[3], entry[4]
    try:
        return getattr(__import__("sunshift.devices." + module, None, None, [name]), name)
    except (ImportError, AttributeError) as e:  # AttributeError: MicroPython hands back a module it could not load
        raise ModuleMissing("device %r (%s): its adapter is not installed here (%s); deploy again with this config" % (device or kind, kind, e))


def build(name, spec, mqtt=None, session=None, log=None):
    """The adapter for the device ``name`` from its checked config entry (site/config.Site.devices)."""
    cls = adapter_class(spec["type"], spec.get("transport", "rest"), name)
    return cls.build(name, spec, mqtt, session, log)
