"""Shared by the adapters of both transports: turning device values into signals.

The MQTT side (``MqttFeed``, the payload parsers) is in mqtt_site, which only a
site with a device over MQTT loads.
"""

from .errors import DeviceError


def flatten(value, prefix, out, max_list=16):
    """Add every leaf of a JSON value to ``out`` as prefix.key.key (lists from 1; nulls left out).

    Lists longer than ``max_list`` (tariff and forecast slots) are left out: no
    rule reads the 97th price slot, and a board has no room for them.
    """
    if isinstance(value, dict):
        for key in value:
            flatten(value[key], prefix + "." + key, out, max_list)
    elif isinstance(value, list):
        if len(value) <= max_list:
            for k, item in enumerate(value):
                flatten(item, "%s.%d" % (prefix, k + 1), out, max_list)
    elif value is not None:  # null is no value, as an empty MQTT payload is
        out[prefix] = value
    return out


def need_url(name, api, url_example):
    """Make sure a device read over REST has its URL (``api`` is None without one)."""
    if api is None:
        raise DeviceError(name, "config", "transport rest needs the device's url (like %s)" % url_example, "config")
