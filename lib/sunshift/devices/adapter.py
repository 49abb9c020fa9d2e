"""What every device adapter shares: the ``Adapter`` base class, the patterns of
the names it offers, and turning a device's JSON into signals.

An adapter reads one device (``poll``) and writes its settings (``write``).
What it offers is data on its class, read by the config, the runner, `read`,
the deploy and docs/signals.md (devices/kinds.py lists the kinds):

* ``SIGNALS``: (pattern, unit) of the signals it produces, after the device's
  name.  The unit is how the device gives the number ("W", "kW", "%", "°C",
  "A", "Wh", "" for a plain number), "bool" or "text", or "any" for the names
  a device has beyond those listed (a pattern ending in ``*``).
* ``FORECASTS``: the patterns among SIGNALS whose value is a forecast
  (forecast.Forecast: slots ahead, such as evcc's tariffs), which the
  language's forecast functions look ahead in.
* ``TARGETS``: (pattern, kind of value) of the settings it can write;
  :meth:`Adapter.setting` finds a target's entry, so what the table does not
  list is refused before anything is sent, and :meth:`Adapter.check_value`
  checks a value of that kind.
* ``VALUES``: (kind of value, unit, words) of each kind in TARGETS: the unit
  a target of that kind takes (as SIGNALS says units; "kWh" is sent in kWh)
  and what docs/signals.md says it takes (:meth:`Adapter.value_of`).  `check` (site/catalog.py) checks a rule's values with the
  unit and with check_value, as the real write does.
* ``CONFIG_KEYS``: its entry in the site config and its section of the
  secrets file, one schema for both: (key, kind[, a[, b]]) tuples, checked by
  site/config.py before :meth:`Adapter.configure` sees the entry.  Kinds:
  ``"duration"`` seconds or a text like "2m", from a to b; ``"int"`` a whole
  number from a to b; ``"bool"`` JSON true or false, nothing else; ``"text"``;
  ``"url"`` http:// or https:// with a host; ``"topic"`` an MQTT topic;
  ``"word"`` one of the words a; ``"words"`` a list of them; ``"entities"``
  a list of "device/entity" paths whose device is one of a; ``"object"``
  ({...}, configure checks inside); ``"secret"`` a text that lives in the
  secrets file, under the device's name, never in the config.  A bare name
  is a key configure checks alone.  Keys not listed are refused.
* ``POLL``, ``TIMEOUT``, ``STALE_AFTER``: the defaults of those keys.

A pattern is dotted parts: a word as written; ``<n>`` a whole number (a
loadpoint); ``<name>`` any one name (a vehicle, an alias in the config);
a word with ``<n>`` at its end (``L<n>``, ``hc<n>``); ``<choice>``, one of the
words the class's ``CHOICES`` ((choice, words), ...) give it; and ``*``, last, for one or more further parts.

Defaults sit on the class, where MicroPython keeps them once, not per
instance, so the runner asks every adapter the same way and never probes
with hasattr.
"""

from .. import port
from ..errors import DeviceError
from ..port import const

# The bounds of the durations every kind shares (docs/config.md): a poll from
# 50 ms (a device on loopback in the tests) to a day; a request's timeout from
# 0.1 s to 5 minutes; a value fresh for 1 s to a day.  Anything beyond is a
# mistake (1e308 s, infinity), refused when the config is read.
DAY = const(86400)
STALE_KEY = ("stale_after", "duration", 1, DAY)  # the site's own stale_after too
TRANSPORT_KEY = ("transport", "word", ("rest", "mqtt"))


def flatten(value, prefix, out, max_list=16, shape=None, keep=None):
    """Add every leaf of a JSON value to ``out`` as prefix.key.key (lists from 1; nulls left out).

    Lists longer than ``max_list`` (tariff and forecast slots) are left out: no
    rule reads the 97th price slot, and a board has no room for them.
    ``shape(value, prefix, out)``, if given, is asked first about every value
    and list, and returns True when it has put the value in ``out`` its own way
    (evcc's phases and times: evcc.as_published), in the same single pass.
    With ``keep`` (names), only those go into ``out``: a board holds what the
    rules read, not the device's every value.
    """
    if shape is not None and not isinstance(value, dict) and shape(value, prefix, out, keep):
        return out
    if isinstance(value, dict):
        for key in value:
            flatten(value[key], prefix + "." + key, out, max_list, shape, keep)
    elif isinstance(value, list):
        if len(value) <= max_list:
            for k, item in enumerate(value):
                flatten(item, "%s.%d" % (prefix, k + 1), out, max_list, shape, keep)
    elif value is not None and (keep is None or prefix in keep):  # null is no value, as an empty MQTT payload is
        out[prefix] = value
    return out


def _part_fits(pattern, part, choices):
    if pattern == part:
        return True
    if pattern == "<name>":
        return part != ""
    if pattern.endswith("<n>"):
        head = pattern[:-3]
        return part.startswith(head) and part[len(head) :].isdigit()
    if pattern[:1] == "<" and pattern[-1:] == ">":
        for name, allowed in choices:
            if name == pattern[1:-1]:
                return part in allowed
    return False


def fits(pattern, parts, choices=()):
    """True if the name ``parts`` (a list, without the device's name) fit ``pattern``;
    ``choices`` is ((placeholder, allowed words), ...)."""
    wanted = pattern.split(".")
    rest = wanted[-1] == "*"
    if rest:
        wanted = wanted[:-1]
        if len(parts) <= len(wanted):
            return False
    elif len(parts) != len(wanted):
        return False
    for k in range(len(wanted)):
        if not _part_fits(wanted[k], parts[k], choices):
            return False
    return True


class Adapter:
    """The base of every device adapter; see the module docstring for the class data.

    ``name`` is the device's name in the site config, the first part of its
    signals and targets; ``api`` its WebApi where it has one.
    """

    kind = ""  # the kind in devices/kinds.py
    title = "device"  # what messages call it: "the Envoy has nothing to write"
    transport = "rest"
    SIGNALS = ()
    FORECASTS = ()
    TARGETS = ()
    VALUES = ()
    CHOICES = ()
    # The keys every kind has (Adapter.COMMON_KEYS in a kind's CONFIG_KEYS).
    COMMON_KEYS = (("poll", "duration", 0.05, DAY), ("timeout", "duration", 0.1, 300), STALE_KEY)
    CONFIG_KEYS = (("url", "url"),) + COMMON_KEYS + (("token", "secret"),)
    POLL = 5
    TIMEOUT = port.TIMEOUT
    STALE_AFTER = None
    URL_EXAMPLE = "http://192.168.1.20"
    # What a write to a name TARGETS does not list says, after the target.
    NOT_WRITABLE = "not a setting this device can write (docs/signals.md lists them)"
    works = False  # True: work() has something to do between polls (Enode follows its actions)
    aged = False  # True: age_of() says how old each value is (Enode's lastSeen)
    wanted = ()  # the signals the rules read and the settings they write (the runner sets it)
    api = None
    name = ""

    # --- the config entry ---------------------------------------------------

    @classmethod
    def configure(cls, check):
        """The checked config entry (a dict) of a local device read over REST or MQTT;
        ``check`` is the config's checker for this entry (site/config.Check)."""
        device = check.common(cls.CONFIG_KEYS, cls.POLL, cls.STALE_AFTER, cls.TIMEOUT)
        transport = device.get("transport", "rest")
        if transport == "mqtt" and not check.has_mqtt:
            check.fail('transport mqtt needs an "mqtt": {"host": ...} section')
        if transport == "rest" and not device.get("url"):
            check.fail('needs "url", like "%s"' % cls.URL_EXAMPLE)
        return device

    @classmethod
    def build(cls, name, spec, mqtt=None, session=None, log=None):
        """The adapter for a checked config entry; ``mqtt`` is the site's MQTT client,
        ``session`` an HTTP session (tests), ``log`` where it reports by itself."""
        raise NotImplementedError

    # --- the names it offers ------------------------------------------------

    @classmethod
    def setting(cls, parts):
        """The (pattern, kind of value) in TARGETS that the target ``parts`` (a list,
        without the device's name) fit, or None."""
        for pattern, kind in cls.TARGETS:
            if fits(pattern, parts, cls.CHOICES):
                return pattern, kind
        return None

    @classmethod
    def is_forecast(cls, name):
        """True if the signal ``name`` (with the device's name) is one of FORECASTS."""
        parts = name.split(".")[1:]
        for pattern in cls.FORECASTS:
            if fits(pattern, parts, cls.CHOICES):
                return True
        return False

    @classmethod
    def value_of(cls, kind):
        """(unit, words) of a kind of value in VALUES, or None."""
        for entry in cls.VALUES:
            if entry[0] == kind:
                return entry[1], entry[2]
        return None

    @classmethod
    def check_value(cls, target, kind, value):
        """The value as the device takes it, or ValueRefused saying why not."""
        return value

    @classmethod
    def instance_problem(cls, parts, spec, reading):
        """Why a device with the config entry ``spec`` has no signal (``reading``) or
        target ``parts`` (a name the table lists), or None: an alias the config does
        not name, a device it does not read."""
        return None

    def find(self, target):
        """(name parts after the device's, kind of value) of a target, or DeviceError."""
        parts = target.split(".")[1:]
        found = self.setting(parts)
        if found is None:
            if not self.TARGETS:
                raise DeviceError(self.name, target, "the %s is read-only; it has no settings to write" % self.title, "refused")
            raise DeviceError(self.name, target, self.NOT_WRITABLE, "refused")
        return parts, found[1]

    def validate(self, target, value):
        """(name parts, kind of value, the value as the device takes it): every check a
        write makes before it sends anything, and all that a dry run makes; raises
        DeviceError or ValueRefused as the write would."""
        parts, kind = self.find(target)
        return parts, kind, self.check_value(target, kind, value)

    # --- at work --------------------------------------------------------------

    def poll(self):
        """One reading: {signal: value}; raises DeviceError."""
        raise NotImplementedError

    def write(self, target, value):
        """Set one target; raises ValueRefused or DeviceError (a read-only device: always)."""
        self.find(target)
        raise NotImplementedError

    def describe(self, target, value):
        """The request a write would send, for dry-run, or None when the adapter cannot say."""
        return None

    def handle(self, topic, payload):
        """An MQTT message; True if it was this device's (MQTT adapters)."""
        return False

    def work(self, now_ms):
        """What the adapter does between polls (see ``works``); never raises."""

    def report_of(self, target):
        """The signal in which the device reports its setting ``target``, or None
        when it does not.  Most devices report a setting under the same name
        (evcc's mode, EMS-ESP's seltemp); the runner reads it back at start and
        writes only a difference."""
        return target

    def age_of(self, signal):
        """How old the value of ``signal`` is in seconds (0: now), None when it is
        stale at once (see ``aged``)."""
        return 0

    def need_url(self):
        """Make sure a device read over REST has its URL."""
        if self.api is None:
            raise DeviceError(self.name, "config", "transport rest needs the device's url (like %s)" % self.URL_EXAMPLE, "config")

    def close(self):
        """Close kept-alive connections."""
        if self.api is not None:
            self.api.close()
