"""The Enode API as sunshift speaks it: the pinned version, the commands that
set each target, Enode's problems in its own words, and the client-credentials
token.  The adapter that uses them is enode.py; this is built from
tools/simulators/enode-notes.md.
"""

import binascii

from .. import port
from ..errors import DeviceError, ValueRefused, clip, clip_repr
from ..jsonpick import describe_body
from .webapi import WebApi

# The API version every request asks for (the `Enode-Version` header): the
# first where every endpoint used here exists is 2023-08-01; this is the newest
# the reference names.  A client can override it with "version" in the config.
VERSION = "2024-10-01"
KINDS = ("vehicles", "chargers", "batteries", "hvacs", "inverters", "meters")
ONE = {"vehicles": "vehicle", "chargers": "charger", "batteries": "battery", "hvacs": "HVAC", "inverters": "inverter", "meters": "meter"}
ENVIRONMENTS = {
    "production": ("https://oauth.production.enode.io/oauth2/token", "https://enode-api.production.enode.io"),
    "sandbox": ("https://oauth.sandbox.enode.io/oauth2/token", "https://enode-api.sandbox.enode.io"),
}
OPERATION_MODES = ("IMPORT_FOCUS", "EXPORT_FOCUS", "TIME_OF_USE", "SELF_RELIANCE")
HOLD_MODES = ("HEAT", "COOL", "AUTO", "OFF")
FOLLOW_SCHEDULE = "FOLLOW_SCHEDULE"
# After HTTP 429 or 503: wait what Retry-After asks (plus up to 25 %) when
# Enode sends it, else back off from BUSY_FIRST doubling to BUSY_MAX seconds, +-25 %.
BUSY_FIRST = 2
BUSY_MAX = 300
# How long the engine waits before it repeats a write Enode refused, by kind of
# refusal: a bad value or a missing scope does not mend itself in 30 s.
RETRY_AFTER = {"refused": 300, "auth": 300, "missing": 300, "conflict": 300, "vendor": 60, "server": 60}
# HTTP status -> (kind, what it means); Enode's problem title and detail follow.
PROBLEMS = {
    400: ("refused", "Enode refused the request as invalid"),
    401: ("auth", "Enode rejected the access token"),
    403: ("auth", "the user has not granted the control scope this needs (link the device again in Enode with control)"),
    404: ("missing", "Enode does not know this device or action (check its ID in the config; `read` lists the user's devices)"),
    405: ("vendor", "the vendor's service is unavailable"),
    408: ("vendor", "the vendor did not answer Enode in time"),
    409: ("vendor", "the vendor rejected the command"),
    422: ("conflict", "the device is controlled by Enode smart charging or a schedule and takes no manual commands"),
    424: ("vendor", "the vendor's API failed"),
    429: ("busy", "Enode asks us to slow down"),
    500: ("server", "Enode failed"),
    503: ("busy", "Enode is unavailable"),
}


# Where Enode says a device is: the ID of the user's location it is at, null
# when at none of them (a public charger, the road).  The reference's vehicles
# and chargers have chargingLocationId (L1630, L7512); it names locationId as
# its replacement from 2023-08-01 (L4334), which batteries have (L940), and
# meters keep it as location.id (L3747).  The first field the object has counts.
LOCATION_FIELDS = ("chargingLocationId", "locationId")
# The kinds whose charging a rule can start, so whose location matters.
PLACED = ("vehicles", "chargers")


def location_of(device):
    """The ID of the location Enode places ``device`` at, None when it is at none
    of the user's locations, or False when the object does not say."""
    for key in LOCATION_FIELDS:
        if key in device:
            return device[key] if isinstance(device[key], str) and device[key] else None
    where = device.get("location")
    if isinstance(where, dict) and "id" in where:
        return where["id"] if isinstance(where["id"], str) and where["id"] else None
    return False


def named(location):
    """A location as messages name it: 'Home' (its ID)."""
    name = location.get("name") if isinstance(location, dict) else None
    return "%r (%s)" % (name[:40] if isinstance(name, str) else "", location.get("id") if isinstance(location, dict) else None)


def pick_home(answer):
    """(ID, how it was found) of the only location in a page of Enode's list of
    locations, or (None, why there is none)."""
    found = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(found, list):
        return None, "Enode's list of locations had no data list in it"
    paging = answer.get("pagination")
    more = isinstance(paging, dict) and paging.get("after")
    places = [place for place in found if isinstance(place, dict) and isinstance(place.get("id"), str)]
    if len(places) == 1 and not more:
        return places[0]["id"], "the user's only Enode location, " + named(places[0])
    if not places:
        return None, 'the user has no location in Enode: add the home there (Enode then says which devices are at it), or name it as "home_location"'
    shown = ", ".join(named(place) for place in places) + (", ..." if more else "")
    return None, 'the user has several locations in Enode (%s): name the home as "home_location"' % shown


def iso_unix(text):
    """Unix seconds of an ISO 8601 UTC time ("2026-11-21T12:00:00Z", ".000Z",
    "+01:00"), or None if it is not one."""
    if not isinstance(text, str) or len(text) < 19 or text[4] != "-" or text[10] not in "Tt ":
        return None
    try:
        year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
        hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
        rest = text[19:]
        if rest[:1] == ".":
            k = 1
            while k < len(rest) and rest[k].isdigit():
                k += 1
            rest = rest[k:]
        offset = 0
        if rest in ("Z", "z", ""):
            pass
        elif rest[:1] in "+-" and len(rest) == 6 and rest[3] == ":":
            offset = (int(rest[1:3]) * 60 + int(rest[4:6])) * 60
            if rest[0] == "-":
                offset = -offset
        else:
            return None
    except ValueError:
        return None
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    # Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
    y = year - (1 if month <= 2 else 0)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + hour * 3600 + minute * 60 + second - offset


def quote(text):
    """``text`` for a URL query (Enode's page cursors are base64: + / = must be escaped)."""
    out = []
    for c in text:
        if c.isalpha() or c.isdigit() or c in "-_.~":
            out.append(c)
        else:
            for b in c.encode("utf-8"):
                out.append("%%%02X" % b)
    return "".join(out)


def split_url(url):
    """("https://host:port", "/path") of a URL."""
    start = url.find("//")
    slash = url.find("/", start + 2 if start >= 0 else 0)
    if slash < 0:
        return url, "/"
    return url[:slash], url[slash:]


def problem_error(device, where, status, body, more=""):
    """A DeviceError for an HTTP status that is not success, with Enode's own words
    (its RFC 7807 problem body: title and detail) when it sent them."""
    kind, meaning = PROBLEMS.get(status, ("server" if status >= 500 else "status", "unexpected answer"))
    said = None
    if body[:1] == b"{":
        try:
            answer = port.json_loads(body)
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            parts = [clip(answer[k]) for k in ("title", "detail") if isinstance(answer.get(k), str) and answer[k]]
            said = ": ".join(parts) or None
    if said is None and body:
        said = describe_body(body)
    text = "%s (HTTP %d%s)%s" % (meaning, status, ", Enode said " + said if said else "", more)
    return DeviceError(device, where, text, kind, RETRY_AFTER.get(kind))


def command(kind, setting, device_id, value, target):
    """(method, path, JSON body or None) of the Enode command that sets ``target``
    to ``value``; ValueRefused with the reason if Enode would not take it."""
    base = "/%s/%s/" % (kind, device_id)
    if setting == "charging":
        action = _switch(target, value, "START", "STOP")
        return "POST", base + "charging", {"action": action}
    if setting == "maxCurrent":
        if type(value) is bool or not isinstance(value, (int, float)) or not (1 <= value <= 125):
            raise ValueRefused("%s needs a current from 1 to 125 A, not %s" % (target, clip_repr(value)))
        return "POST", base + "max-current", {"maxCurrent": value}
    if setting == "operationMode":
        mode = value.upper() if isinstance(value, str) else value
        if mode not in OPERATION_MODES:
            raise ValueRefused("%s needs one of %s, not %s" % (target, " ".join(OPERATION_MODES), clip_repr(value)))
        return "POST", base + "operation-mode", {"operationMode": mode}
    if setting == "hold":
        return _hold(base, target, value)
    if setting == "smartOverride":
        on = _switch(target, value, True, False)
        return ("POST" if on else "DELETE"), base + "smart-override", None
    if setting == "smartCharging":
        # Not an action: Enode answers with the policy.  The adapter adds the
        # deadline and minimum it last read, so a switch changes nothing else.
        return "PUT", base + "smart-charging-policy", {"isEnabled": _switch(target, value, True, False)}
    raise ValueRefused("%s cannot be written" % target)


def _switch(target, value, on, off):
    if value is True or (isinstance(value, str) and value.lower() in ("on", "start", "true")):
        return on
    if value is False or (isinstance(value, str) and value.lower() in ("off", "stop", "false")):
        return off
    words = "true (on) or false (off)" if target.endswith(".smartCharging") else "true (start) or false (stop)"
    raise ValueRefused("%s needs %s, not %s" % (target, words, clip_repr(value)))


def _hold(base, target, value):
    """An HVAC's `hold` target: "FOLLOW_SCHEDULE", "OFF", "HEAT 21", "COOL 24" or "AUTO 19 24"."""
    words = value.upper().split() if isinstance(value, str) else []
    if words == [FOLLOW_SCHEDULE]:
        return "POST", base + "follow-schedule", None
    numbers = []
    for word in words[1:]:
        try:
            numbers.append(float(word) if "." in word else int(word))
        except ValueError:
            numbers = None
            break
    mode = words[0] if words else None
    wanted = {"OFF": 0, "HEAT": 1, "COOL": 1, "AUTO": 2}.get(mode)
    if wanted is None or numbers is None or len(numbers) != wanted:
        shown = clip_repr(value)
        raise ValueRefused('%s needs "FOLLOW_SCHEDULE", "OFF", "HEAT 21", "COOL 24" or "AUTO 19 24" (heat and cool setpoints in °C), not %s' % (target, shown))
    body = {"mode": mode}
    if mode == "HEAT":
        body["heatSetpoint"] = numbers[0]
    elif mode == "COOL":
        body["coolSetpoint"] = numbers[0]
    elif mode == "AUTO":
        body["heatSetpoint"], body["coolSetpoint"] = numbers
    return "POST", base + "permanent-hold", body


class Token:
    """An OAuth 2.0 client-credentials access token, fetched when needed and
    fetched again before it runs out.  It never appears in a message."""

    def __init__(self, device, url, client_id, client_secret, timeout, session, insecure=False):
        self.device = device
        base, self.path = split_url(url)
        self.api = WebApi(device, base, None, insecure, timeout, None, session)
        pair = ("%s:%s" % (client_id or "", client_secret or "")).encode("utf-8")
        self.basic = "Basic " + binascii.b2a_base64(pair).decode().strip()
        self.value = None
        self.expires_ms = 0
        self.fetched = 0

    def get(self, now_ms):
        """The current token, fetching a new one when it is missing or nearly out."""
        if self.value is None or port.ticks_diff(self.expires_ms, now_ms) <= 0:
            self.fetch(now_ms)
        return self.value

    def forget(self):
        """Drop the token (Enode said 401): the next call fetches a new one."""
        self.value = None

    def fetch(self, now_ms):
        """Ask the token URL for a new token (HTTP Basic with the client's credentials)."""
        where = "POST " + self.path
        headers = {"Authorization": self.basic, "Content-Type": "application/x-www-form-urlencoded"}
        status, answer_headers, body = self.api.call("POST", self.path, "grant_type=client_credentials", headers)
        if status in (429, 503):
            error = DeviceError(self.device, where, "busy", "busy")
            error.answer = (status, answer_headers, body)  # Enode.request slows down on it
            raise error
        if status in (400, 401):
            raise DeviceError(
                self.device,
                where,
                "Enode refused the client credentials (HTTP %d); check client_id and client_secret under %r in the secrets file,"
                " and that they belong to this environment" % (status, self.device),
                "auth",
            )
        if not 200 <= status < 300:
            raise problem_error(self.device, where, status, body)
        answer = self.api.parse("POST", self.path, body)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        lifetime = answer.get("expires_in", 3600) if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token or type(lifetime) is bool or not isinstance(lifetime, (int, float)):
            raise DeviceError(self.device, where, "bad answer: no access_token and expires_in in it", "body")
        # Fetch again a minute early (a tenth of the lifetime for short ones).
        margin = min(60, lifetime / 10)
        self.value = token
        self.expires_ms = port.ticks_add(now_ms, int((lifetime - margin) * 1000))
        self.fetched += 1
