"""`read emsesp` over REST: everything the gateway offers, found through
EMS-ESP's generic commands, never on a board (its poll reads only what the
config names).

`GET /api/system/info` lists the devices the gateway has ("devices": EMS
devices, sensors, custom entities); `GET /api/<device>/entities` gives each
entity's value, type and whether it is writable.  The types make 1/0 a
boolean where the entity is one.
"""

from ..devices.emsesp import normalise
from ..errors import DeviceError

# Served by system/info but not values a rule reads (EMS-ESP's scheduler items).
SKIPPED = ("scheduler", "system")


def survey(adapter, log):
    """(signals, writable) of the gateway behind the REST ``adapter``: every
    entity's value and the names of the writable ones; ``log(text)`` hears
    what could not be read, which is then left out."""
    signals = adapter.poll()
    writable = []
    try:
        info = adapter.api.get_json("/api/system/info")
        listed = info.get("devices") if isinstance(info, dict) else None
        devices = [d.get("type") for d in listed if isinstance(d, dict) and isinstance(d.get("type"), str)] if isinstance(listed, list) else []
    except DeviceError as e:
        log("%s (only the configured devices are read)" % e)
        devices = list(adapter.devices)
    for device in devices:
        if device in SKIPPED:
            continue
        try:
            entities = adapter.api.get_json("/api/%s/entities" % device)
        except DeviceError as e:
            log(str(e))
            continue
        if not isinstance(entities, dict):
            continue
        for key in entities:
            details = entities[key]
            if not isinstance(details, dict):
                continue
            name = "%s.%s.%s" % (adapter.name, device, key)
            if details.get("writeable") is True:
                writable.append((name, describe(details)))
            if "value" in details and details["value"] is not None:
                unit = "bool" if details.get("type") == "boolean" else adapter.unit_of(name)
                value = normalise(details["value"], unit)
                if device == "analogsensor" and type(value) is bool:
                    value = 1 if value else 0
                signals[name] = value
    return signals, writable


def describe(details):
    """What a writable entity takes, from its details: "number 30-80 °C", "boolean", "one of auto, manual"."""
    kind = details.get("type") or "value"
    if kind == "enum" and isinstance(details.get("enum"), list):
        return "one of " + ", ".join(str(word) for word in details["enum"])
    text = kind
    if "min" in details and "max" in details:
        text += " %s-%s" % (details["min"], details["max"])
    if details.get("uom"):
        text += " " + str(details["uom"])
    return text
