"""The Enphase Envoy / IQ Gateway reader: production, consumption and grid (net) power.

Signals (W; net is + while importing, - while exporting), after the device's
name in the site config (``envoy`` unless it is called otherwise):

    envoy.production           envoy.production.L1 ... L3        (per phase, where the Envoy gives them)
    envoy.total_consumption    envoy.total_consumption.L1 ... L3
    envoy.net_consumption      envoy.net_consumption.L1 ... L3

Envoys differ by firmware and by which current transformers (CTs) are fitted,
so the reader probes once which endpoints this one answers and where each
figure comes from, then polls only those.  The rules follow the pyenphase
library, whose captures from 28 firmware builds are our test corpus
(tests/fixtures/envoy/README.md); every quirk below is named after it.
"""

from .. import jsonpick
from ..errors import DeviceError, TransportError, clip_repr
from .adapter import Adapter
from .webapi import WebApi

REPORT = "/production.json?details=1"
REPORT_PLAIN = "/production"
V1 = "/api/v1/production"
METERS = "/ivp/meters"
INFO = "/info"

_REPORT_KEYS = {"production", "consumption", "type", "activeCount", "measurementType", "wNow", "whLifetime", "lines"}
_METER_KEYS = {"state", "measurementType", "phaseCount", "phaseMode"}
_V1_KEYS = {"wattsNow", "wattHoursToday", "wattHoursSevenDays", "wattHoursLifetime"}

# Firmware from which api/v1/production goes stale on metered units without CTs.
V1_STALE_FROM = (8, 2, 4264)
# Firmware whose total-consumption section can be a copy of net-consumption.
TOTAL_IS_NET_FROM = (8, 3, 5433)
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
    if isinstance(meters, list):
        for m in meters:
            if isinstance(m, dict) and m.get("state") == "enabled" and m.get("measurementType"):
                enabled[m["measurementType"]] = m.get("phaseCount") or 1
    return enabled


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


def _watts(value, what):
    if type(value) is bool or not isinstance(value, (int, float)) or value - value != 0:
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


class Plan:
    """Where this Envoy's figures come from, decided by the probe."""

    def __init__(self):
        self.production = None  # REPORT, REPORT_PLAIN, V1, "inverters", "html"
        self.consumption = None  # REPORT or REPORT_PLAIN
        self.meters = {}
        self.info = {}
        self.report_for_inverters = None


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
    )
    CONFIG_KEYS = (("url", "url"), ("insecure_tls", "bool"), ("token", "secret")) + Adapter.COMMON_KEYS
    URL_EXAMPLE = "https://192.168.1.20"

    def __init__(self, name, url, token=None, insecure=False, timeout=Adapter.TIMEOUT, session=None):
        self.name = name
        self.api = WebApi(name, url, token, insecure, timeout, AUTH_HINT, session)
        self.plan = None
        self.failures = 0
        self.misses = []
        self.names = {}  # figure -> its signal name

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
        signals = {}
        reports = {}
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

    def _read(self, plan):
        signals = {}
        report = None
        where = plan.production
        try:
            if where in (REPORT, REPORT_PLAIN):
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
            elif where == "inverters":
                report = self.api.get_json(plan.report_for_inverters, _REPORT_KEYS)
                entry = production_entry(report, "inverters")
                if entry is None:
                    raise DeviceError(self.name, "GET " + plan.report_for_inverters, "the inverters section is missing or inactive", "body")
                signals["production"] = _watts(entry.get("wNow"), "inverters wNow")
            elif where == "html":
                status, _, body = self.api.call("GET", REPORT_PLAIN)
                self.api.check_status("GET", REPORT_PLAIN, status, body)
                watts = scrape_html(body)
                if watts is None:
                    raise DeviceError(self.name, "GET " + REPORT_PLAIN, "the production page has no 'Currently' figure", "body")
                signals["production"] = watts
            if plan.consumption is not None:
                if report is None or plan.consumption != where:
                    report = self.api.get_json(plan.consumption, _REPORT_KEYS)
                if not read_report(report, plan.info, plan.meters, signals):
                    raise DeviceError(self.name, "GET " + plan.consumption, "the consumption CT sections are missing or inactive", "body")
        except ValueError as e:
            raise DeviceError(self.name, "GET " + (plan.consumption or where), "bad answer: %s" % e, "body")
        return signals
