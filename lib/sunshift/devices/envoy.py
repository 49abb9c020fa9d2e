"""The Enphase Envoy / IQ Gateway reader: production, consumption, grid (net)
and battery power, energy counters, and each inverter's power.

Signals (W; net is + while importing, - while exporting; a battery's power is
+ while discharging, - while charging), after the device's name in the site
config (``envoy`` unless it is called otherwise):

    envoy.production           envoy.production.L1 ... L3        (per phase, where the Envoy gives them)
    envoy.total_consumption    envoy.total_consumption.L1 ... L3
    envoy.net_consumption      envoy.net_consumption.L1 ... L3
    envoy.production.today     envoy.production.lifetime         (Wh; also total_consumption's)
    envoy.import.lifetime      envoy.export.lifetime             (Wh, from the grid CT)
    envoy.battery.power  .soc  .energy  .capacity               (W, %, Wh, Wh)
    envoy.batteries.<serial>.power  .soc                          (each IQ Battery)
    envoy.inverters.<serial>.power                                (each microinverter's last report)

The CTs' figures come from /ivp/meters/readings where the unit has a
production CT (the meters' own readings: smaller than the production report),
else from the production report as pyenphase reads it.  What only the rules
read (energy today, the battery, the inverters) is asked for only when a rule
reads it, or by `read`.

Envoys differ by firmware and by which current transformers (CTs) are fitted,
so the reader probes once which endpoints this one answers and where each
figure comes from, then polls only those.  The rules follow the pyenphase
library, whose captures from 28 firmware builds are our test corpus
(tests/fixtures/envoy/README.md); every quirk below is named after it.
"""

from .. import jsonpick, port
from ..errors import DeviceError, TransportError, clip_repr
from .adapter import Adapter
from .webapi import WebApi

REPORT = "/production.json?details=1"
REPORT_PLAIN = "/production"
V1 = "/api/v1/production"
METERS = "/ivp/meters"
READINGS = "/ivp/meters/readings"
INVERTERS = "/api/v1/production/inverters"
ENSEMBLE = "/ivp/ensemble/inventory"
SECCTRL = "/ivp/ensemble/secctrl"
BATTERIES = "/ivp/ensemble/power"
INFO = "/info"

# What each answer keeps (jsonpick.load's ``keep``): tuples, which a frozen
# module holds in flash where a set would take the heap.
_REPORT_KEYS = (
    "production",
    "consumption",
    "storage",
    "type",
    "activeCount",
    "measurementType",
    "lines",
    "wNow",
    "whLifetime",
    "whToday",
    "whLastSevenDays",
    "readingTime",
    "whNow",
    "percentFull",
)
_METER_KEYS = ("eid", "state", "measurementType", "phaseCount", "phaseMode")
# What a poll keeps of /ivp/meters/readings (reading_keys adds the phases'
# channels and the energy counters where the rules read them).
_READING_KEYS = ("eid", "activePower", "channels", "actEnergyDlvd", "actEnergyRcvd")
_V1_KEYS = ("wattsNow", "wattHoursToday", "wattHoursSevenDays", "wattHoursLifetime")
_INVERTER_KEYS = ("serialNumber", "lastReportDate", "lastReportWatts")
_ENSEMBLE_KEYS = ("type", "devices", "serial_num")
_SECCTRL_KEYS = ("agg_soc", "ENC_agg_soc", "ENC_agg_avail_energy", "ACB_agg_energy", "Max_energy", "Enc_max_available_capacity")
# The Envoy spells the list "devices:" (with the colon) in /ivp/ensemble/power.
_BATTERY_KEYS = ("devices:", "devices", "serial_num", "real_power_mw", "soc")

# Firmware from which api/v1/production goes stale on metered units without CTs.
V1_STALE_FROM = (8, 2, 4264)
# Firmware whose total-consumption section can be a copy of net-consumption.
TOTAL_IS_NET_FROM = (8, 3, 5433)
# What only the production report says, when the readings give the CT figures.
REPORT_EXTRAS = ("production.today", "total_consumption.today", "total_consumption.lifetime", "battery")
# Failed polls in a row before the endpoints are probed again.
REPROBE_AFTER = 3

AUTH_HINT = "get a new token (entrez.enphaseenergy.com) and put it in the secrets file"


def firmware_tuple(text):
    """(8, 2, 4264) for 'D8.2.4264'; () when there is no version."""
    digits = text.lstrip("DRMdrm ")
    parts = []
    for piece in digits.split("."):
        number = ""
        for c in piece:
            if "0" <= c <= "9":
                number += c
            else:
                break
        if not number:
            break
        parts.append(int(number))
    return tuple(parts)


def _xml_tag(text, tag):
    start = text.find("<" + tag + ">")
    if start < 0:
        return None
    start += len(tag) + 2
    end = text.find("</" + tag + ">", start)
    return text[start:end].strip() if end >= 0 else None


def parse_info(body):
    """{"firmware": "D7.6.175", "version": (7, 6, 175), "imeter": True/False/None} from /info XML."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeError:
        text = ""
    firmware = _xml_tag(text, "software") or ""
    imeter = _xml_tag(text, "imeter")
    return {
        "firmware": firmware,
        "version": firmware_tuple(firmware),
        "imeter": None if imeter is None else imeter.lower() == "true",
    }


# What parse_info needs of /info (2 to 3 KB of XML), kept as it arrives.
INFO_TAGS = (b"<software>", b"<imeter>")


def info_tags(body):
    """The <software> and <imeter> elements of /info, read from its body as it
    arrives, without holding the rest of the document."""
    kept = b""
    window = b""
    piece = bytearray(256)
    while True:
        got = body.readinto(piece)
        if not got:
            return kept
        window = window[-80:] + bytes(piece[:got])  # an element cut by the end of a piece is found with the next
        for tag in INFO_TAGS:
            start = window.find(tag)
            end = window.find(b"</" + tag[1:], start) if start >= 0 else -1
            if end >= 0 and tag not in kept:
                kept += window[start : end + len(tag) + 1]


def meter_setup(meters):
    """From /ivp/meters: ({measurementType: phaseCount} of enabled CTs)."""
    enabled = {}
    for m in _enabled(meters):
        count = m.get("phaseCount")
        enabled[m["measurementType"]] = count if type(count) is int and count > 0 else 1
    return enabled


def meter_eids(meters):
    """From /ivp/meters: {eid: measurementType} of the enabled CTs, to find
    their readings (firmware 8.3 also reads out CTs that are not enabled)."""
    eids = {}
    for m in _enabled(meters):
        if m.get("eid") is not None:
            eids[m["eid"]] = m["measurementType"]
    return eids


def _enabled(meters):
    if not isinstance(meters, list):
        return []
    return [m for m in meters if isinstance(m, dict) and m.get("state") == "enabled" and m.get("measurementType")]


def meter_readings(readings, eids, phases):
    """The CT figures of /ivp/meters/readings, named as signals without the
    device ("production", "net_consumption.L1", "import.lifetime" …).

    Each enabled CT gives its power (activePower: + delivering, so + importing
    on the grid CT and + discharging on the storage CT) and, with more than one
    phase, each phase's from its channels.  Totals the Envoy does not measure
    are worked out as its production report does: total = production + net
    (with a storage CT too: the report's total includes what the battery takes).
    """
    by_type = {}
    if isinstance(readings, list):
        for meter in readings:
            if isinstance(meter, dict) and meter.get("eid") in eids:
                kind = eids[meter["eid"]]
                if kind not in by_type:
                    by_type[kind] = meter
    out = {}
    names = (("production", "production"), ("net-consumption", "net_consumption"), ("total-consumption", "total_consumption"), ("storage", "battery.power"))
    lines = {}
    for kind, name in names:
        meter = by_type.get(kind)
        if meter is None:
            continue
        out[name] = _watts(meter.get("activePower"), kind + " activePower")
        lines[name] = _channels(meter, kind, phases) if phases > 1 and name != "battery.power" else None
    production = by_type.get("production")
    for kind, name, field in (
        ("production", "production.lifetime", "actEnergyDlvd"),
        ("net-consumption", "import.lifetime", "actEnergyDlvd"),
        ("net-consumption", "export.lifetime", "actEnergyRcvd"),
        ("total-consumption", "total_consumption.lifetime", "actEnergyDlvd"),
    ):
        meter = by_type.get(kind)
        if meter is not None and _number(meter.get(field)):
            out[name] = round(meter[field])
    if production is not None:
        raw = {}
        for kind in ("production", "net-consumption", "total-consumption"):
            if kind in by_type:
                raw[kind] = by_type[kind].get("activePower")
        if "total-consumption" not in by_type and "net-consumption" in by_type:
            out["total_consumption"] = round(raw["production"] + raw["net-consumption"])
            lines["total_consumption"] = _sum_lines(lines.get("production"), lines.get("net_consumption"), 1)
        elif "net-consumption" not in by_type and "total-consumption" in by_type:
            out["net_consumption"] = round(raw["total-consumption"] - raw["production"])
            lines["net_consumption"] = _sum_lines(lines.get("total_consumption"), lines.get("production"), -1)
    for name in lines:
        for k in range(len(lines[name] or ())):
            out["%s.L%d" % (name, k + 1)] = round(lines[name][k])
    return out


def _channels(meter, kind, count):
    """The first ``count`` channels' activePower (unrounded), or None."""
    channels = meter.get("channels")
    if not isinstance(channels, list) or not channels:
        return None
    out = []
    for k, channel in enumerate(channels[:count]):
        power = channel.get("activePower") if isinstance(channel, dict) else None
        _watts(power, "%s channel %d activePower" % (kind, k + 1))
        out.append(power)
    return out


def _sum_lines(a, b, sign):
    if not a or not b:
        return None
    return [a[k] + sign * b[k] for k in range(min(len(a), len(b)))]


def _active(entry):
    count = entry.get("activeCount")
    return isinstance(count, (int, float)) and count > 0


def production_entry(report, kind="eim"):
    """The active production section of ``kind`` of a production report, or None:
    "eim" (a CT) or "inverters" (the fallback when no CT measures production).

    4.2.33 has an active production eim without measurementType: type and
    activeCount decide, not the name.
    """
    for entry in _entries(report, "production"):
        named = kind != "eim" or entry.get("measurementType") in (None, "production")
        if entry.get("type") == kind and named and _active(entry):
            return entry
    return None


def has_eim(report):
    """True if the report has eim sections at all (a metered Envoy's report)."""
    for entry in _entries(report, "production"):
        if entry.get("type") == "eim":
            return True
    return False


def consumption_entries(report):
    """(total, net) active consumption sections, each or both None.

    By measurementType; where the firmware leaves the name out, by position
    (pyenphase always goes by position: [0] total, [1] net).
    """
    entries = [e for e in _entries(report, "consumption") if e.get("type") == "eim"]
    total = net = None
    for k, entry in enumerate(entries):
        kind = entry.get("measurementType") or ("total-consumption" if k == 0 else "net-consumption")
        if not _active(entry):
            continue
        if kind == "total-consumption" and total is None:
            total = entry
        elif kind == "net-consumption" and net is None:
            net = entry
    return total, net


def _entries(report, key):
    if not isinstance(report, dict):
        return []
    items = report.get(key)
    return [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []


def _number(value):
    """True for a finite int or float (not a bool, which is an int on CPython)."""
    return type(value) is not bool and isinstance(value, (int, float)) and value - value == 0


def _watts(value, what):
    if not _number(value):
        raise ValueError("%s is %s, not a number of watts" % (what, clip_repr(value)))
    return round(value)


def phase_count(meters):
    """How many phases the enabled CTs measure (1 when there is no phase data)."""
    return max([1] + list(meters.values()))


def _phases(entry, what, count):
    """[L1, L2 ... watts] of an entry's first ``count`` lines, or None without lines.

    Split-phase Envoys report a third, empty line: only phaseCount lines are phases.
    """
    lines = entry.get("lines") if entry else None
    if not isinstance(lines, list) or not lines:
        return None
    return [_watts(line.get("wNow") if isinstance(line, dict) else None, "%s line %d" % (what, k + 1)) for k, line in enumerate(lines[:count])]


def v1_usable(v1, info, meters):
    """api/v1/production is used unless it is one of the two known broken cases."""
    if not isinstance(v1, dict) or "wattsNow" not in v1:
        return False
    hours = [v1.get(k) for k in ("wattHoursToday", "wattHoursSevenDays", "wattHoursLifetime")]
    if all(h == 0 for h in hours):
        return False  # all wattHours 0: the broken endpoint of metered units without CTs
    version = info.get("version") or ()
    if info.get("imeter") and version >= V1_STALE_FROM and not meters:
        return False  # metered, no CT, fw >= 8.2.4264: its values are stale
    return True


def scrape_html(body):
    """Watts from the legacy (fw 3) HTML production page: the 'Currently' row."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeError:
        return None
    at = text.find("Currently")
    if at < 0:
        return None
    cell = text.find("<td>", at)
    end = text.find("</td>", cell)
    if cell < 0 or end < 0:
        return None
    words = text[cell + 4 : end].split()
    if len(words) != 2:
        return None
    factors = {"W": 1, "kW": 1000, "MW": 1000000}
    if words[1] not in factors:
        return None
    try:
        return round(float(words[0]) * factors[words[1]])
    except ValueError:
        return None


def read_report(report, info, meters, signals):
    """Add the consumption figures of a production report to ``signals``
    (named without the device: "net_consumption", "total_consumption.L1").

    Applies the 8.3.5433 repair and the phase rule; returns True if it found
    consumption.
    """
    total, net = consumption_entries(report)
    if total is None and net is None:
        return False
    production = signals.get("production")
    phases = phase_count(meters)
    if net is not None:
        signals["net_consumption"] = _watts(net.get("wNow"), "net-consumption wNow")
    if total is not None:
        signals["total_consumption"] = _watts(total.get("wNow"), "total-consumption wNow")
    repair = (
        total is not None
        and net is not None
        and production is not None
        and info.get("imeter")
        and (info.get("version") or ()) >= TOTAL_IS_NET_FROM
        and total.get("whLifetime") == net.get("whLifetime")
        and total.get("wNow") == net.get("wNow")
    )
    if repair:
        # fw 8.3.5433 sends the net section twice; total is net + production.
        signals["total_consumption"] = signals["net_consumption"] + production
    if phases > 1:
        net_lines = _phases(net, "net-consumption", phases)
        total_lines = _phases(total, "total-consumption", phases)
        prod_lines = _phases(production_entry(report), "production", phases)
        for k in range(len(net_lines or ())):
            signals["net_consumption.L%d" % (k + 1)] = net_lines[k]
        for k in range(len(total_lines or ())):
            value = total_lines[k]
            line_total = total["lines"][k]
            line_net = net["lines"][k] if net_lines and k < len(net["lines"]) else None
            if (
                repair
                and prod_lines
                and line_net
                and line_total.get("wNow") == line_net.get("wNow")
                and line_total.get("whLifetime") == line_net.get("whLifetime")
            ):
                value = net_lines[k] + prod_lines[k]
            signals["total_consumption.L%d" % (k + 1)] = value
    return True


def acb_entry(report):
    """The report's AC Battery section (storage[0], as pyenphase reads it) when
    batteries are counted and it says how full they are, else None."""
    entries = _entries(report, "storage")
    if entries and _active(entries[0]) and "percentFull" in entries[0]:
        return entries[0]
    return None


def report_energy(report, info, out):
    """Energy today and lifetime (Wh) of the report's active production and
    total-consumption CT sections into ``out``, where ``out`` has none yet."""
    production = production_entry(report)
    total, net = consumption_entries(report)
    if total is not None and net is not None and total.get("whLifetime") == net.get("whLifetime") and (info.get("version") or ()) >= TOTAL_IS_NET_FROM:
        total = None  # 8.3.5433's copy of the net section: not the house's energy
    for entry, name in ((production, "production"), (total, "total_consumption")):
        if entry is None:
            continue
        today, week, lifetime = entry.get("whToday"), entry.get("whLastSevenDays"), entry.get("whLifetime")
        if _number(lifetime) and name + ".lifetime" not in out:
            out[name + ".lifetime"] = round(lifetime)
        # Firmware 8 counts no days for its consumption sections (today and the
        # week 0.0 beside a lifetime), and 8.3.5433 gives the lifetime as today:
        # neither is today's energy.
        if _number(today) and week != 0 and today != lifetime and name + ".today" not in out:
            out[name + ".today"] = round(today)


def has_encharge(inventory):
    """True when /ivp/ensemble/inventory lists IQ Batteries (Encharge)."""
    if isinstance(inventory, list):
        for item in inventory:
            if isinstance(item, dict) and item.get("type") == "ENCHARGE" and item.get("devices"):
                return True
    return False


def battery_figures(secctrl, batteries, acb, out):
    """The home battery's figures into ``out``: ``secctrl`` is
    /ivp/ensemble/secctrl (the Envoy's totals of IQ and AC Batteries), ``batteries``
    /ivp/ensemble/power's devices (each IQ Battery), ``acb`` the report's AC
    Battery section; each may be None.  A storage CT's power, already in
    ``out``, stands: it measures what the batteries' own reports estimate.
    """
    power = None
    socs = []
    for battery in batteries or ():
        if not isinstance(battery, dict) or battery.get("serial_num") is None:
            continue
        prefix = "batteries.%s." % battery["serial_num"]
        if _number(battery.get("real_power_mw")):
            out[prefix + "power"] = round(battery["real_power_mw"] / 1000)
            power = (power or 0) + battery["real_power_mw"] / 1000
        if _number(battery.get("soc")):
            out[prefix + "soc"] = battery["soc"]
            socs.append(battery["soc"])
    if acb is not None:
        if _number(acb.get("wNow")):
            power = (power or 0) + acb["wNow"]
    if power is not None and "battery.power" not in out:
        out["battery.power"] = round(power)
    if not isinstance(secctrl, dict):
        secctrl = {}
    # agg_soc is IQ and AC Batteries together (pyenphase's battery aggregate);
    # ENC_agg_soc the IQ Batteries' alone.
    for key in ("agg_soc", "ENC_agg_soc"):
        if _number(secctrl.get(key)):
            out["battery.soc"] = secctrl[key]
            break
    else:
        if acb is not None and _number(acb.get("percentFull")):
            out["battery.soc"] = acb["percentFull"]
        elif socs:
            out["battery.soc"] = round(sum(socs) / len(socs))
    energy = secctrl.get("ENC_agg_avail_energy")
    if _number(energy):
        out["battery.energy"] = round(energy + (secctrl.get("ACB_agg_energy") if _number(secctrl.get("ACB_agg_energy")) else 0))
    elif acb is not None and _number(acb.get("whNow")):
        out["battery.energy"] = round(acb["whNow"])
    for key in ("Max_energy", "Enc_max_available_capacity"):
        if _number(secctrl.get(key)) and secctrl[key] > 0:
            out["battery.capacity"] = round(secctrl[key])
            break


def newest_reading(report):
    """The newest readingTime of the report's CT (eim) sections: the Envoy's
    own clock at the report, or 0."""
    newest = 0
    for key in ("production", "consumption"):
        for entry in _entries(report, key):
            stamp = entry.get("readingTime")
            if entry.get("type") == "eim" and _number(stamp) and stamp > newest:
                newest = stamp
    return newest


class Plan:
    """Where this Envoy's figures come from, decided by the probe."""

    def __init__(self):
        self.production = None  # READINGS, REPORT, REPORT_PLAIN, V1, "inverters", "html"
        self.consumption = None  # READINGS, REPORT or REPORT_PLAIN
        self.meters = {}
        self.eids = {}  # enabled CTs: {eid: measurementType}
        self.reading_keys = _READING_KEYS  # what the polls keep of the readings
        self.info = {}
        self.report_for_inverters = None
        self.report = None  # the report that answered (REPORT or REPORT_PLAIN): energy today, AC Batteries
        self.encharge = False  # IQ Batteries in the ensemble inventory
        self.secctrl = False  # /ivp/ensemble/secctrl answers (battery totals)
        self.acb = False  # the report counts AC Batteries
        self.inverters = False  # /api/v1/production/inverters answers, and the rules read an inverter
        self.extras = False  # the rules read what only the report says (REPORT_EXTRAS)
        self.battery = False  # the rules read the battery


class Envoy(Adapter):
    """Reads one Envoy.  ``poll()`` returns {signal: watts} or raises DeviceError."""

    kind = "envoy"
    title = "Envoy"  # only read, over HTTP(S): no TARGETS
    SIGNALS = (
        ("production", "W"),
        ("production.L<n>", "W"),
        ("total_consumption", "W"),
        ("total_consumption.L<n>", "W"),
        ("net_consumption", "W"),
        ("net_consumption.L<n>", "W"),
        ("production.today", "Wh"),
        ("production.lifetime", "Wh"),
        ("total_consumption.today", "Wh"),
        ("total_consumption.lifetime", "Wh"),
        ("import.lifetime", "Wh"),
        ("export.lifetime", "Wh"),
        ("battery.power", "W"),
        ("battery.soc", "%"),
        ("battery.energy", "Wh"),
        ("battery.capacity", "Wh"),
        ("batteries.<name>.power", "W"),
        ("batteries.<name>.soc", "%"),
        ("inverters.<name>.power", "W"),
    )
    # Inverter figures are as old as the inverters' last report (every 5 to 15
    # minutes, none at night), which readingTime and lastReportDate say.
    aged = True
    CONFIG_KEYS = (("url", "url"), ("insecure_tls", "bool"), ("token", "secret")) + Adapter.COMMON_KEYS
    URL_EXAMPLE = "https://192.168.1.20"

    def __init__(self, name, url, token=None, insecure=False, timeout=Adapter.TIMEOUT, session=None):
        self.name = name
        self.api = WebApi(name, url, token, insecure, timeout, AUTH_HINT, session)
        self.plan = None
        self.failures = 0
        self.misses = []
        self.names = {}  # figure -> its signal name
        self.ages = {}  # figure -> how old it is (s), for those the Envoy dates
        self.probed_for = None  # the wanted signals the plan was probed for
        self.unix_time = port.unix_time

    @classmethod
    def build(cls, name, spec, mqtt=None, session=None, log=None):
        """The reader of a checked config entry."""
        return cls(name, spec["url"], spec.get("token"), spec.get("insecure_tls", False), spec.get("timeout", cls.TIMEOUT), session)

    # --- probing -------------------------------------------------------------

    def _try_json(self, path, keep):
        """JSON of ``path``, or None when the Envoy does not serve it (404, 401 on an
        optional endpoint, HTML, 'Error: 401'); transport errors propagate.
        Why an endpoint gave nothing is kept in self.misses for the error.
        The JSON is read as it arrives: the report is the Envoy's largest answer."""
        status, _, body = self.api.open("GET", path)
        try:
            if status != 200:
                self.misses.append((path, status, "HTTP %d" % status))
                return None, status
            try:
                return jsonpick.load(body, keep), status
            except jsonpick.JsonError as e:
                self.misses.append((path, status, str(e)))
                return None, status
            except TransportError as e:
                raise DeviceError(self.name, "GET " + path, str(e), e.kind)
        finally:
            body.close()

    def probe(self):
        """Find which endpoints answer and where each figure comes from."""
        plan = Plan()
        statuses = []
        self.misses = []
        self.probed_for = self.wanted
        status, _, body = self.api.open("GET", INFO)
        try:
            statuses.append(status)
            if status == 200:
                plan.info = parse_info(info_tags(body))
        except TransportError as e:
            raise DeviceError(self.name, "GET " + INFO, str(e), e.kind)
        finally:
            body.close()
        meters, status = self._try_json(METERS, _METER_KEYS)
        statuses.append(status)
        plan.meters = meter_setup(meters)
        plan.eids = meter_eids(meters)
        signals = {}
        reports = {}
        if "production" in plan.eids.values():
            # The meters' own readings: the CT figures without the report around them.
            readings, status = self._try_json(READINGS, _READING_KEYS)
            statuses.append(status)
            figures = meter_readings(readings, plan.eids, phase_count(plan.meters))
            if "production" in figures:
                plan.production = READINGS
                # A board's poll keeps only what the rules read of each meter.
                plan.reading_keys = ("eid", "activePower")
                if self._wants("production.L", "net_consumption.L", "total_consumption.L"):
                    plan.reading_keys += ("channels",)
                if self._wants("production.lifetime", "import.", "export.", "total_consumption.lifetime"):
                    plan.reading_keys += ("actEnergyDlvd", "actEnergyRcvd")
                signals["production"] = figures["production"]
                if "net_consumption" in figures:
                    plan.consumption = READINGS
        for path in (REPORT, REPORT_PLAIN):
            if plan.production is not None and plan.consumption is not None:
                break  # the detailed report had both: the plain one is not needed
            report, status = self._try_json(path, _REPORT_KEYS)
            statuses.append(status)
            if not isinstance(report, dict):
                continue
            reports[path] = report
            entry = production_entry(report)
            if plan.production is None and entry is not None:
                plan.production = path
                signals["production"] = _watts(entry.get("wNow"), "production wNow")
            if plan.consumption is None and read_report(report, plan.info, plan.meters, dict(signals)):
                plan.consumption = path
        if plan.production is None:
            v1, status = self._try_json(V1, _V1_KEYS)
            statuses.append(status)
            if v1_usable(v1, plan.info, plan.meters):
                plan.production = V1
            else:
                for path in (REPORT, REPORT_PLAIN):
                    report = reports.get(path)
                    if report is not None and has_eim(report) and production_entry(report, "inverters") is not None:
                        plan.production = "inverters"
                        plan.report_for_inverters = path
                        break
        if plan.production is None:
            status, _, body = self.api.call("GET", REPORT_PLAIN)
            if status == 200 and scrape_html(body) is not None:
                plan.production = "html"
        for path in (REPORT, REPORT_PLAIN):
            if plan.report is None and path in reports:
                plan.report = path
        if plan.report is None and plan.production == READINGS and self._wants(*REPORT_EXTRAS):
            # The readings had it all but what only the report says.
            report = self._try_json(REPORT, _REPORT_KEYS)[0]
            if isinstance(report, dict):
                plan.report = REPORT
                reports[REPORT] = report
        plan.acb = plan.report is not None and acb_entry(reports[plan.report]) is not None
        # What the rules read, found once here (new rules bring a new probe), not at every poll.
        plan.extras = plan.report is not None and self._wants(*REPORT_EXTRAS)
        plan.battery = self._wants("battery")
        if (plan.production is not None or plan.consumption is not None) and plan.battery:
            plan.encharge = has_encharge(self._try_json(ENSEMBLE, _ENSEMBLE_KEYS)[0])
            plan.secctrl = (plan.encharge or plan.acb) and isinstance(self._try_json(SECCTRL, _SECCTRL_KEYS)[0], dict)
        if (plan.production is not None or plan.consumption is not None) and self._wants("inverters."):
            plan.inverters = isinstance(self._try_json(INVERTERS, _INVERTER_KEYS)[0], list)
        if plan.production is None and plan.consumption is None:
            # A 401 is about the token only where tokens exist (firmware 7+);
            # older firmware answers 401 for installer-only pages.
            uses_tokens = self.api.token or (plan.info.get("version") or (7,)) >= (7,)
            codes = ", ".join(str(s) for s in statuses)
            if uses_tokens and (401 in statuses or 403 in statuses):
                message, kind = "token rejected or expired (HTTP 401); " + AUTH_HINT, "auth"
            elif max(statuses) >= 500:
                # Report it as the same kind of trouble a failing poll is: one episode, not two.
                message, kind = "the device failed (HTTP %s)" % codes, "server"
            else:
                message, kind = "no endpoint gives production figures (HTTP %s)" % codes, "probe"
                for path, status, why in self.misses:
                    if status == 200:
                        message, kind = "bad answer from %s: %s" % (path, why), "body"
                        break
            raise DeviceError(self.name, "probe", message, kind)
        self.plan = plan
        self.misses = []  # why endpoints gave nothing: only a failed probe reports it
        return plan

    # --- polling -------------------------------------------------------------

    def poll(self):
        """One reading: {signal: W}.  Probes first, and again after repeated failures."""
        try:
            if self.probed_for is not self.wanted:
                # New rules may read what the plan does not fetch, and not what it kept names for.
                self.plan = None
                self.names = {}
            if self.plan is None or self.failures >= REPROBE_AFTER:
                self.plan = None
                self.probe()
            figures = self._read(self.plan)
        except DeviceError:
            self.failures += 1
            raise
        self.failures = 0
        # The figures are named without the device; its name goes in front,
        # made once per figure rather than once per poll, and only for what the
        # rules read (``wanted``; everything for `read`): a board's heap is small.
        signals = {}
        names = self.names
        wanted = self.wanted
        for figure in figures:
            name = names.get(figure)
            if name is None:
                name = self.name + "." + figure
                if wanted and name not in wanted:
                    continue
                names[figure] = name
            signals[name] = figures[figure]
        return signals

    def _wants(self, *parts):
        """True when the rules read a signal starting with one of ``parts`` (after
        the device's name), or read everything (`read`)."""
        if not self.wanted:
            return True
        prefix = self.name + "."
        skip = len(prefix)
        for name in self.wanted:
            if name.startswith(prefix):
                for part in parts:
                    if name.startswith(part, skip):
                        return True
        return False

    def age_of(self, signal):
        """How old ``signal`` is in seconds: the inverters' figures by their last
        report, everything else as old as the poll (0)."""
        if not self.ages:
            return 0  # the common case (CTs): nothing this poll is dated
        return self.ages.get(signal[len(self.name) + 1 :], 0)

    def _read(self, plan):
        signals = {}
        self.ages = {}
        report = None
        v1 = None
        where = plan.production
        try:
            if where == READINGS:
                figures = meter_readings(self.api.get_json(READINGS, plan.reading_keys), plan.eids, phase_count(plan.meters))
                if "production" not in figures:
                    raise DeviceError(self.name, "GET " + READINGS, "the production CT's reading is missing", "body")
                for name in figures:
                    signals[name] = figures[name]
            elif where in (REPORT, REPORT_PLAIN):
                report = self.api.get_json(where, _REPORT_KEYS)
                entry = production_entry(report)
                if entry is None:
                    raise DeviceError(self.name, "GET " + where, "the production CT section is missing or inactive", "body")
                signals["production"] = _watts(entry.get("wNow"), "production wNow")
                phases = phase_count(plan.meters)
                if phases > 1:
                    lines = _phases(entry, "production", phases)
                    for k in range(len(lines or ())):
                        signals["production.L%d" % (k + 1)] = lines[k]
            elif where == V1:
                v1 = self.api.get_json(V1, _V1_KEYS)
                signals["production"] = _watts(v1.get("wattsNow") if isinstance(v1, dict) else None, "wattsNow")
                for field, name in (("wattHoursToday", "production.today"), ("wattHoursLifetime", "production.lifetime")):
                    if _number(v1.get(field)):
                        signals[name] = round(v1[field])
            elif where == "inverters":
                report = self.api.get_json(plan.report_for_inverters, _REPORT_KEYS)
                entry = production_entry(report, "inverters")
                if entry is None:
                    raise DeviceError(self.name, "GET " + plan.report_for_inverters, "the inverters section is missing or inactive", "body")
                signals["production"] = _watts(entry.get("wNow"), "inverters wNow")
                self._date("production", entry.get("readingTime"), newest_reading(report))
            elif where == "html":
                status, _, body = self.api.call("GET", REPORT_PLAIN)
                self.api.check_status("GET", REPORT_PLAIN, status, body)
                watts = scrape_html(body)
                if watts is None:
                    raise DeviceError(self.name, "GET " + REPORT_PLAIN, "the production page has no 'Currently' figure", "body")
                signals["production"] = watts
            if plan.consumption not in (None, READINGS):
                if report is None or plan.consumption != where:
                    report = self.api.get_json(plan.consumption, _REPORT_KEYS)
                if not read_report(report, plan.info, plan.meters, signals):
                    raise DeviceError(self.name, "GET " + plan.consumption, "the consumption CT sections are missing or inactive", "body")
            if plan.extras:
                if report is None or plan.report not in (where, plan.consumption, plan.report_for_inverters):
                    report = self.api.get_json(plan.report, _REPORT_KEYS)
                report_energy(report, plan.info, signals)
            if plan.battery:
                self._battery(plan, report, signals)
            if plan.inverters:
                self._inverters(signals)
        except ValueError as e:
            raise DeviceError(self.name, "GET " + (plan.consumption or where), "bad answer: %s" % e, "body")
        return signals

    def _battery(self, plan, report, signals):
        """The home battery's figures (battery_figures) from what this Envoy has."""
        batteries = None
        if plan.encharge:
            answer = self.api.get_json(BATTERIES, _BATTERY_KEYS)
            if isinstance(answer, dict):
                batteries = answer.get("devices:", answer.get("devices"))
        secctrl = self.api.get_json(SECCTRL, _SECCTRL_KEYS) if plan.secctrl else None
        acb = acb_entry(report) if plan.acb else None
        if batteries is not None or secctrl is not None or acb is not None or "battery.power" in signals:
            battery_figures(secctrl, batteries, acb, signals)

    def _inverters(self, signals):
        """Each microinverter's last report (W), dated by it."""
        found = []

        def each(inverter):
            serial = inverter.get("serialNumber")
            if serial is not None and _number(inverter.get("lastReportWatts")):
                name = "inverters.%s.power" % serial
                signals[name] = round(inverter["lastReportWatts"])
                found.append((name, inverter.get("lastReportDate")))

        self.api.get_json(INVERTERS, _INVERTER_KEYS, each)
        for name, stamp in found:
            self._date(name, stamp, 0)

    def _date(self, figure, stamp, envoy_now):
        """Age ``figure`` by its Unix time ``stamp``: against the Envoy's own
        clock (``envoy_now``, the newest CT reading of the same answer) where it
        has one, else against ours once it is set (a board's may not be yet)."""
        if not _number(stamp) or stamp <= 0:
            return
        now = envoy_now
        if not now:
            now = self.unix_time()
            if port.utc_parts(now)[0] < port.CLOCK_SET_FROM:
                return
        self.ages[figure] = max(0, now - stamp)
