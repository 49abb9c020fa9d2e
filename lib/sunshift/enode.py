"""The Enode cloud: a user's vehicles, chargers, batteries, HVACs, inverters and
meters as signals, and the commands Enode offers as targets.

Signals are ``enode.<kind>.<alias>.<field path>`` (the aliases in the config
name Enode's device IDs): ``enode.batteries.home.chargeState.batteryLevel``,
``enode.vehicles.car.chargeState.isCharging``.  Their time is the device's
``lastSeen`` (when Enode last heard from the vendor), not our poll, so a car
Enode has not reached for an hour is stale however often we ask; a device
Enode calls unreachable (``isReachable`` false) is stale at once.

A write creates an Enode Action, which Enode carries out in the background:
``work()`` follows each one (PENDING -> CONFIRMED / FAILED / CANCELLED) with
growing pauses, and logs how it ended.  One action per target at a time: when
a rule changes its mind, our pending action is cancelled first.  A failed
action is logged with Enode's reason and not repeated; the rule's next
decision tries again.

docs/enode.md lists every signal and target; tools/simulators/enode-notes.md
is what this is built from, with the places where Enode's reference is silent.
"""

import binascii

from . import port
from .errors import DeviceError, SunshiftError, ValueRefused
from .feed import flatten
from .jsonpick import describe_body
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
# Parts of a device object that are not readings (IDs, GPS, scopes, capability
# lists); left out of the signals.
SKIP = ("id", "userId", "capabilities", "scopes", "location", "locationId", "chargingLocationId")
OPERATION_MODES = ("IMPORT_FOCUS", "EXPORT_FOCUS", "TIME_OF_USE", "SELF_RELIANCE")
HOLD_MODES = ("HEAT", "COOL", "AUTO", "OFF")
FOLLOW_SCHEDULE = "FOLLOW_SCHEDULE"
# target setting -> the kinds that have it
SETTINGS = {
    "charging": ("vehicles", "chargers"),
    "maxCurrent": ("vehicles", "chargers"),
    "operationMode": ("batteries",),
    "hold": ("hvacs",),
    "smartOverride": ("vehicles",),
}
PAGE_SIZE = 50
MAX_PAGES = 20  # a user with more than 1,000 devices of a kind is not a home
# Following an action: the first look after this many seconds, then twice as
# long each time, up to ACTION_CHECK_MAX (Enode confirms in ~20 s, sometimes 5 min).
ACTION_CHECK_FIRST = 2
ACTION_CHECK_MAX = 60
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
    422: (
        "conflict",
        "the device is controlled by Enode smart charging or a schedule and takes no manual commands"
        " (turn that off in the Enode app, or start charging with the vehicle's smartOverride target)",
    ),
    424: ("vendor", "the vendor's API failed"),
    429: ("busy", "Enode asks us to slow down"),
    500: ("server", "Enode failed"),
    503: ("busy", "Enode is unavailable"),
}


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
            parts = [str(answer[k]) for k in ("title", "detail") if isinstance(answer.get(k), str) and answer[k]]
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
            raise ValueRefused("%s needs a current from 1 to 125 A, not %r" % (target, value))
        return "POST", base + "max-current", {"maxCurrent": value}
    if setting == "operationMode":
        mode = value.upper() if isinstance(value, str) else value
        if mode not in OPERATION_MODES:
            raise ValueRefused("%s needs one of %s, not %r" % (target, " ".join(OPERATION_MODES), value))
        return "POST", base + "operation-mode", {"operationMode": mode}
    if setting == "hold":
        return _hold(base, target, value)
    if setting == "smartOverride":
        on = _switch(target, value, True, False)
        return ("POST" if on else "DELETE"), base + "smart-override", None
    raise ValueRefused("%s cannot be written" % target)


def _switch(target, value, on, off):
    if value is True or (isinstance(value, str) and value.lower() in ("on", "start", "true")):
        return on
    if value is False or (isinstance(value, str) and value.lower() in ("off", "stop", "false")):
        return off
    raise ValueRefused("%s needs true (start) or false (stop), not %r" % (target, value))


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
        raise ValueRefused('%s needs "FOLLOW_SCHEDULE", "OFF", "HEAT 21", "COOL 24" or "AUTO 19 24" (heat and cool setpoints in °C), not %r' % (target, value))
    body = {"mode": mode}
    if mode == "HEAT":
        body["heatSetpoint"] = numbers[0]
    elif mode == "COOL":
        body["coolSetpoint"] = numbers[0]
    elif mode == "AUTO":
        body["heatSetpoint"], body["coolSetpoint"] = numbers
    return "POST", base + "permanent-hold", body


def target_problem(target, aliases):
    """Why ``target`` is not something Enode can set for these aliases, or None."""
    parts = target.split(".")
    if len(parts) != 4 or parts[1] not in KINDS or parts[3] not in SETTINGS or parts[1] not in SETTINGS[parts[3]]:
        return "the rules set %s, which is not a writable Enode setting (docs/enode.md lists them)" % target
    if parts[2] not in aliases.get(parts[1], {}):
        return "the rules set %s, but the config names no %s %r (under %s)" % (target, ONE[parts[1]], parts[2], parts[1])
    return None


# The keys of an "enode" device in the config (docs/enode.md), and its defaults:
# Enode's cloud refreshes its data about every 10 minutes, so asking every two
# minutes is polite, and its data is fresh for half an hour (its lastSeen).
CONFIG_KEYS = ("type", "environment", "api_url", "token_url", "user", "version") + KINDS
CONFIG_KEYS += ("refresh_after", "insecure_tls", "poll", "timeout", "stale_after")
POLL = 120
STALE_AFTER = 1800
TIMEOUT = 10


def configure(site, where, name, spec, secrets):
    """The checked config entry of an Enode device (config.Site calls it), or ConfigError.

    Adds ``aliases`` ({kind: {alias: ID}}) and the client's credentials from the secrets.
    """
    from .config import ConfigError, is_alias, seconds, secret

    path = site.path
    device = site.common(where, "enode", spec, CONFIG_KEYS, POLL, STALE_AFTER, TIMEOUT)
    environment = spec.get("environment", "production")
    if environment not in ENVIRONMENTS:
        raise ConfigError("%s: %s.environment: 'production' or 'sandbox', not %r" % (path, where, environment))
    for key in ("api_url", "token_url", "user", "version"):
        if key in spec and (not isinstance(spec[key], str) or not spec[key]):
            raise ConfigError("%s: %s.%s: must be a text in quotes" % (path, where, key))
    aliases = {}
    for kind in KINDS:
        names = spec.get(kind, {})
        if not isinstance(names, dict):
            raise ConfigError('%s: %s.%s: an object of alias: Enode ID, like {"car": "05ee9df5-..."}' % (path, where, kind))
        for alias in names:
            if not is_alias(alias):
                what = "is not a name rules can use (letters, digits, _; not starting with a digit)"
                raise ConfigError("%s: %s.%s: %r %s" % (path, where, kind, alias, what))
            if not isinstance(names[alias], str) or not names[alias]:
                raise ConfigError("%s: %s.%s.%s: the Enode ID, a text in quotes" % (path, where, kind, alias))
        if names:
            aliases[kind] = dict(names)
    if not aliases:
        raise ConfigError('%s: %s: name at least one device, like "batteries": {"home": "<Enode battery ID>"}' % (path, where))
    device["aliases"] = aliases
    device["environment"] = environment
    device["refresh_after"] = seconds(path, where + ".refresh_after", spec.get("refresh_after", 600))
    device["client_id"] = secret(secrets, name, "client_id")
    device["client_secret"] = secret(secrets, name, "client_secret")
    if not device["client_id"] or not device["client_secret"]:
        what = 'needs {"client_id": "...", "client_secret": "..."} (your Enode client)'
        raise ConfigError("%s: %s: %s under %r in the secrets file" % (path, where, what, name))
    return device


def build(name, spec, session=None, log=None):
    """The adapter for a config entry checked by :func:`configure` (app.build_adapter calls it)."""
    token_url, api_url = ENVIRONMENTS[spec.get("environment", "production")]
    return Enode(
        name,
        spec.get("api_url", api_url),
        spec.get("token_url", token_url),
        spec.get("client_id"),
        spec.get("client_secret"),
        spec.get("aliases", {}),
        spec.get("user"),
        spec.get("version", VERSION),
        spec.get("timeout", TIMEOUT),
        session,
        log,
        spec.get("refresh_after", 600),
        spec.get("insecure_tls", False),
    )


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


class Action:
    """An Enode action we created and follow until it ends."""

    def __init__(self, target, value, kind, action_id, now_ms):
        self.target = target
        self.value = value
        self.kind = kind
        self.id = action_id
        self.delay = ACTION_CHECK_FIRST
        self.next_ms = port.ticks_add(now_ms, ACTION_CHECK_FIRST * 1000)
        self.started_ms = now_ms


class Enode:
    """One Enode client: its user's devices read as signals, commands as targets.

    ``aliases`` is {kind: {alias: Enode device ID}}; ``user`` the Enode user
    whose devices are listed (without it each device is asked for by ID).
    ``log`` gets what happens to actions; ``ticks_ms`` and ``unix_time`` are
    the clocks (replaced in tests).
    """

    def __init__(
        self,
        name,
        api_url,
        token_url,
        client_id,
        client_secret,
        aliases,
        user=None,
        version=VERSION,
        timeout=TIMEOUT,
        session=None,
        log=None,
        refresh_after=600,
        insecure=False,
        ticks_ms=None,
        unix_time=None,
    ):
        self.name = name
        self.transport = "rest"
        self.user = user
        self.version = version
        self.aliases = aliases
        self.refresh_after = refresh_after
        self.log = log
        self.ticks_ms = ticks_ms or port.ticks_ms
        self.unix_time = unix_time or port.unix_time
        if not client_id or not client_secret:
            raise DeviceError(name, "config", 'needs {"client_id": "...", "client_secret": "..."} under %r in the secrets file' % name, "config")
        self.api = WebApi(name, api_url, None, insecure, timeout, None, session)
        self.token = Token(name, token_url, client_id, client_secret, timeout, session, insecure)
        self.pending = {}  # target -> Action
        self.ages = {}  # "enode.kind.alias" -> age in s of its data, None when unreachable
        self.hinted = {}  # "kind/id" -> ticks of our last refresh-hint
        self.wanted = ()  # the signals the rules read (set by the runner)
        self.busy_until = None  # ticks before which Enode asked us to wait
        self.busy_delay = 0
        self.seed = 12345
        self.missing = {}  # "enode.kind.alias" -> True once logged as not found

    # --- calls ----------------------------------------------------------------

    def request(self, method, path, body=None):
        """(status, body bytes) of one API call with the token and the pinned version.

        A 401 fetches a new token and tries once more; 429 and 503 make every
        call wait (Retry-After, else a growing pause with jitter); every other
        failure raises a DeviceError naming the endpoint.
        """
        where = "%s %s" % (method, path)
        now = self.ticks_ms()
        if self.busy_until is not None and port.ticks_diff(self.busy_until, now) > 0:
            wait = port.ticks_diff(self.busy_until, now) // 1000 + 1
            raise DeviceError(self.name, where, "Enode asked us to wait; next try in %d s" % wait, "busy", wait)
        text = None if body is None else port.json_dumps(body)
        for attempt in (1, 2):
            try:
                try:
                    token = self.token.get(now)
                except DeviceError as e:
                    answer = getattr(e, "answer", None)
                    if answer is None:
                        raise
                    raise self._slow_down("POST " + self.token.path, answer[0], answer[1], answer[2], now)
                headers = {"Authorization": "Bearer " + token, "Enode-Version": self.version}
                if text is not None:
                    headers["Content-Type"] = "application/json"
                status, answer_headers, data = self.api.call(method, path, text, headers)
            except MemoryError:
                raise DeviceError(
                    self.name,
                    where,
                    "not enough memory for a TLS session to Enode on this board (it needs about 40 KB free);"
                    " run the Enode device on a Pi, or use the frozen firmware",
                    "memory",
                )
            if status == 401 and attempt == 1:
                self.token.forget()  # expired or revoked early: one fresh token, then give up
                continue
            break
        if status in (429, 503):
            raise self._slow_down(where, status, answer_headers, data, now)
        self.busy_delay = 0
        self.busy_until = None
        if status == 401:
            text = "Enode rejected a freshly fetched token (HTTP 401); check the client credentials"
            raise DeviceError(self.name, where, text, "auth", RETRY_AFTER["auth"])
        return status, data

    def _slow_down(self, where, status, headers, data, now):
        self.busy_delay = BUSY_FIRST if self.busy_delay == 0 else min(self.busy_delay * 2, BUSY_MAX)
        self.seed = (self.seed * 1103515245 + 12345) & 0x7FFFFFFF
        spread = (self.seed % 1000) / 1000  # jitter: clients that failed together retry apart
        wait = self.busy_delay * (0.75 + spread / 2)  # our own pause, +-25 %
        asked = headers.get("retry-after") if headers else None
        if asked is not None:
            try:
                wait = float(asked) * (1 + spread / 4)  # what Enode asked for, and up to 25 % more
            except ValueError:
                pass  # an HTTP date: our own pause stands
        self.busy_until = port.ticks_add(now, int(wait * 1000))
        error = problem_error(self.name, where, status, data, "; waiting %d s" % (wait + 0.5))
        error.retry_after = int(wait + 0.999)
        return error

    def call_json(self, method, path, body=None):
        """The JSON answer of a call that must succeed."""
        status, data = self.request(method, path, body)
        if not 200 <= status < 300:
            raise problem_error(self.name, "%s %s" % (method, path), status, data)
        if not data:
            return None
        return self.api.parse(method, path, data)

    # --- reading --------------------------------------------------------------

    def poll(self):
        """Every aliased device's readings as {signal: value}; ages() says how old each is."""
        out = {}
        self.ages = {}
        unix_now = self.unix_time()
        clock_set = unix_now >= 1735689600  # 2025-01-01: before that a board's clock is not set yet
        for kind in KINDS:
            names = self.aliases.get(kind)
            if not names:
                continue
            found = self._devices(kind, names)
            for alias in names:
                prefix = "%s.%s.%s" % (self.name, kind, alias)
                device = found.get(names[alias])
                if device is None:
                    if not self.missing.get(prefix):
                        self.missing[prefix] = True
                        whose = " for user " + self.user if self.user else ""
                        self._log("warn", prefix, "Enode has no %s with ID %s%s; its signals stay stale" % (ONE[kind], names[alias], whose))
                    continue
                self.missing.pop(prefix, None)
                self._read(prefix, device, out, unix_now if clock_set else None)
        self._hint()
        return out

    def _devices(self, kind, names):
        """{Enode ID: device object} for one kind: the user's list (every page) or one GET per ID."""
        found = {}
        if self.user is None:
            for alias in names:
                status, data = self.request("GET", "/%s/%s" % (kind, names[alias]))
                if status == 404:
                    continue
                if not 200 <= status < 300:
                    raise problem_error(self.name, "GET /%s/%s" % (kind, names[alias]), status, data)
                device = self.api.parse("GET", "/%s/..." % kind, data)
                if isinstance(device, dict):
                    found[device.get("id")] = device
            return found
        path = "/users/%s/%s?pageSize=%d" % (quote(self.user), kind, PAGE_SIZE)
        cursor = None
        for _ in range(MAX_PAGES):
            url = path if cursor is None else path + "&after=" + quote(cursor)
            page = self.call_json("GET", url)
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise DeviceError(self.name, "GET " + url, "bad answer: no data list in it", "body")
            for device in page["data"]:
                if isinstance(device, dict):
                    found[device.get("id")] = device
            paging = page.get("pagination")
            after = paging.get("after") if isinstance(paging, dict) else None
            if not after or after == cursor or not page["data"]:
                break
            cursor = after
        return found

    def _read(self, prefix, device, out, unix_now):
        for key in device:
            if key not in SKIP:
                flatten(device[key], prefix + "." + key, out)
        seen = iso_unix(device.get("lastSeen"))
        if device.get("isReachable") is False:
            self.ages[prefix] = None  # Enode cannot reach it: what it last said is not now
        elif unix_now is None or seen is None:
            self.ages[prefix] = 0  # no clock (or no lastSeen): as fresh as this poll
        else:
            self.ages[prefix] = max(0, unix_now - seen)

    def age_of(self, signal):
        """How old the value of ``signal`` is in seconds (0: now), None when its
        device is unreachable (the signal is stale at once)."""
        if signal.endswith(".isReachable") or signal.endswith(".lastSeen"):
            return 0  # these say how things are now
        parts = signal.split(".", 3)
        return self.ages.get(".".join(parts[:3]), 0)

    def _hint(self):
        """Ask Enode to refresh a device whose data the rules read and is older
        than refresh_after (at most once per refresh_after per device)."""
        now = self.ticks_ms()
        for prefix in self.ages:
            age = self.ages[prefix]
            if age is None or age < self.refresh_after or not self._read_by_rules(prefix):
                continue
            _, kind, alias = prefix.split(".")
            key = kind + "/" + self.aliases[kind][alias]
            last = self.hinted.get(key)
            if last is not None and port.ticks_diff(now, last) < self.refresh_after * 1000:
                continue
            self.hinted[key] = now
            path = "/%s/%s/refresh-hint" % (kind, self.aliases[kind][alias])
            try:
                self.call_json("POST", path)
                self._log("info", prefix, "data %d s old; asked Enode to refresh it" % age)
            except DeviceError as e:
                self._log("warn", prefix, "could not ask for fresh data: %s" % e)

    def _read_by_rules(self, prefix):
        start = prefix + "."
        for name in self.wanted:
            if name.startswith(start):
                return True
        return False

    # --- writing --------------------------------------------------------------

    def resolve(self, target):
        """(kind, setting, Enode device ID) of a target, or DeviceError if there is none."""
        problem = target_problem(target, self.aliases)
        if problem:
            raise DeviceError(self.name, target, problem, "refused")
        _, kind, alias, setting = target.split(".")
        return kind, setting, self.aliases[kind][alias]

    def describe(self, target, value):
        """The request a write would send, for dry-run: 'POST /batteries/ID/operation-mode {...}'."""
        kind, setting, device_id = self.resolve(target)
        method, path, body = command(kind, setting, device_id, value, target)
        return "create an Enode action: %s %s%s" % (method, path, "" if body is None else " " + port.json_dumps(body))

    def write(self, target, value):
        """Create the action that sets ``target`` (cancelling our own pending one for it)."""
        kind, setting, device_id = self.resolve(target)
        method, path, body = command(kind, setting, device_id, value, target)
        now = self.ticks_ms()
        pending = self.pending.get(target)
        if pending is not None:
            if pending.value == value:
                return  # already on its way
            self._cancel(pending)
        status, data = self.request(method, path, body)
        if setting == "smartOverride" and method == "DELETE" and status == 404:
            self._log("info", target, "no smart override was active")
            return
        if not 200 <= status < 300:
            raise problem_error(self.name, "%s %s" % (method, path), status, data)
        answer = self.api.parse(method, path, data) if data else None
        if not isinstance(answer, dict):
            raise DeviceError(self.name, "%s %s" % (method, path), "bad answer: not an Enode action", "body")
        if setting == "smartOverride":
            action_id = answer.get("vendorActionId")
            action_kind = "vehicles"
            if method == "DELETE":
                self._log("info", target, "smart override ended")
                return
        else:
            action_id = answer.get("id")
            action_kind = kind
        state = answer.get("state", "PENDING")
        if not isinstance(action_id, str):
            self._log("info", target, "Enode took it (no action to follow)")
            return
        if state != "PENDING":
            self._ended(Action(target, value, action_kind, action_id, now), answer, now)
            return
        self.pending[target] = Action(target, value, action_kind, action_id, now)
        self._log("info", target, "Enode action %s created (%s %s); following it" % (action_id, method, path))

    def _cancel(self, action):
        """Cancel our pending action; an action that already ended cannot be (409), which is fine."""
        del self.pending[action.target]
        path = "/%s/actions/%s/cancel" % (action.kind, action.id)
        try:
            status, data = self.request("POST", path)
        except DeviceError as e:
            self._log("warn", action.target, "could not cancel action %s: %s" % (action.id, e))
            return
        if 200 <= status < 300:
            self._log("info", action.target, "cancelled our pending action %s (the rule changed its mind)" % action.id)
        elif status == 409:
            self._log("info", action.target, "action %s had already ended before the cancel" % action.id)
        else:
            self._log("warn", action.target, "could not cancel action %s: %s" % (action.id, problem_error(self.name, "POST " + path, status, data)))

    def work(self, now_ms=None):
        """Look at every pending action that is due; log the ones that ended.  Never raises."""
        now = self.ticks_ms() if now_ms is None else now_ms
        for target in list(self.pending):
            action = self.pending[target]
            if port.ticks_diff(now, action.next_ms) < 0:
                continue
            path = "/%s/actions/%s" % (action.kind, action.id)
            try:
                answer = self.call_json("GET", path)
            except DeviceError as e:
                if e.kind == "missing":
                    del self.pending[target]
                    self._log("warn", target, "Enode no longer knows action %s; the rule's next decision tries again" % action.id)
                    continue
                self._later(action, now, e.retry_after)
                continue
            except (SunshiftError, ValueError) as e:
                self._later(action, now, None)
                self._log("warn", target, "could not look at action %s: %s" % (action.id, e))
                continue
            state = answer.get("state") if isinstance(answer, dict) else None
            if state == "PENDING" or state is None:
                self._later(action, now, None)
            else:
                del self.pending[target]
                self._ended(action, answer, now)

    def _later(self, action, now, wait):
        action.delay = min(action.delay * 2, ACTION_CHECK_MAX)
        action.next_ms = port.ticks_add(now, int(max(action.delay, wait or 0) * 1000))

    def _ended(self, action, answer, now):
        state = answer.get("state")
        took = port.ticks_diff(now, action.started_ms) // 1000
        if state == "CONFIRMED":
            self._log("info", action.target, "Enode confirmed %s (action %s, after %d s)" % (_shown(action.value), action.id, took))
            return
        reason = answer.get("failureReason")
        why = ""
        if isinstance(reason, dict):
            why = ": " + ", ".join(str(reason[k]) for k in ("type", "detail") if reason.get(k))
        if state == "FAILED":
            text = "Enode could not set %s (action %s failed%s); the rule's next decision tries again" % (_shown(action.value), action.id, why)
            self._log("warn", action.target, text)
        else:
            self._log("info", action.target, "Enode cancelled action %s for %s%s" % (action.id, _shown(action.value), why))

    def _log(self, level, source, text):
        if self.log is not None:
            getattr(self.log, level)(source, text)

    def close(self):
        """Close kept-alive connections."""
        self.api.close()
        self.token.api.close()


def _shown(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)
