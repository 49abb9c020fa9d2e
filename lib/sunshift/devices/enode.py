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

A start or a stop of charging goes only where Enode places the vehicle or
charger at home (its chargingLocationId against the home location); elsewhere
it is refused before anything is sent, unless the config's charge_away names
it: a rule switches charging at home, not at a public charger.

docs/enode.md lists every signal and target; tools/simulators/enode-notes.md
is what this is built from, with the places where Enode's reference is silent.
The parts of Enode's API that stand alone (commands, problems, the token,
locations) are enode_api.py, the readings beside the device objects (smart
charging status, schedules, statistics) enode_reads.py; this module is some
900 lines because reading, writing, following actions, finding the home and
telling an outage of Enode (/health/ready) from a device's fault share one
client: its token, its pause after a 429 and its log.
"""

from .. import port
from ..errors import DeviceError, SunshiftError, clip
from ..text import is_alias
from ..units import is_number
from . import enode_reads as reads
from .adapter import Adapter, flatten
from .enode_api import (
    BUSY_FIRST,
    BUSY_MAX,
    ENVIRONMENTS,
    KINDS,
    ONE,
    PLACED,
    RETRY_AFTER,
    VERSION,
    Token,
    command,
    iso_unix,
    location_of,
    named,
    pick_home,
    problem_error,
    quote,
)
from .webapi import WebApi

# Parts of a device object that are not readings (IDs, GPS, scopes, capability
# lists); left out of the signals.
# Enode's power fields are in kW; rules have every power in W (`> 1.4kW` is
# 1400), so these are turned into W as they are read.
KW_FIELDS = ("chargeState.chargeRate", "consumptionRate", "productionState.productionRate", "energyState.power")
SKIP = ("id", "userId", "capabilities", "scopes", "location", "locationId", "chargingLocationId")
PAGE_SIZE = 50
MAX_PAGES = 20  # a user with more than 1,000 devices of a kind is not a home
# Locations asked for when looking for the home: one is the home, more are
# named in the message that asks the user to choose.
HOME_PAGE = 5
# Following an action: the first look after this many seconds, then twice as
# long each time, up to ACTION_CHECK_MAX (Enode confirms in ~20 s, sometimes 5 min).
ACTION_CHECK_FIRST = 2
ACTION_CHECK_MAX = 60
# How often today's statistics are asked for (the config's statistics_poll):
# Enode counts them from its own 10-minute data, so every poll would buy nothing.
STATISTICS_POLL = 900
# Failures that may be Enode itself (a 5xx from its API): /health/ready then
# tells an outage of Enode from a fault of one device or endpoint.
OUTAGE_KINDS = ("server", "busy")
# How long a write waits while Enode is down before the engine tries it again.
DOWN_RETRY = 60


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


class Enode(Adapter):
    """One Enode client: its user's devices read as signals, commands as targets.

    ``aliases`` is {kind: {alias: Enode device ID}}; ``user`` the Enode user
    whose devices are listed (without it each device is asked for by ID).
    ``log`` gets what happens to actions; ``ticks_ms`` and ``unix_time`` are
    the clocks (replaced in tests).
    """

    kind = "enode"
    title = "Enode"
    # The readings rules use most (docs/enode.md); every other field of a
    # device is there too, by its JSON path.  Rates are Enode's kW, read as W.
    SIGNALS = (
        ("vehicles.<name>.chargeState.batteryLevel", "%"),
        ("vehicles.<name>.chargeState.isPluggedIn", "bool"),
        ("vehicles.<name>.chargeState.isCharging", "bool"),
        ("vehicles.<name>.chargeState.isFullyCharged", "bool"),
        ("vehicles.<name>.chargeState.chargeRate", "W"),
        ("vehicles.<name>.chargeState.chargeLimit", "%"),
        ("chargers.<name>.chargeState.isPluggedIn", "bool"),
        ("chargers.<name>.chargeState.isCharging", "bool"),
        ("chargers.<name>.chargeState.chargeRate", "W"),
        ("chargers.<name>.chargeState.maxCurrent", "A"),
        ("vehicles.<name>.atHome", "bool"),
        ("chargers.<name>.atHome", "bool"),
        ("vehicles.<name>.smartChargingPolicy.isEnabled", "bool"),
        ("vehicles.<name>.smartChargingPolicy.deadline", "text"),
        ("vehicles.<name>.smartChargingPolicy.minimumChargeLimit", "%"),
        ("vehicles.<name>.smartChargingStatus.state", "text"),
        ("vehicles.<name>.smartChargingStatus.smartOverride.isActive", "bool"),
        ("vehicles.<name>.smartChargingStatus.plan.startAt", "text"),
        ("<chargeable>.<name>.schedule.isEnabled", "bool"),
        ("<chargeable>.<name>.schedule.count", ""),
        ("<chargeable>.<name>.schedule.state", "text"),
        ("<chargeable>.<name>.schedule.isChargingExpected", "bool"),
        ("<counted>.<name>.statistics.today.kwhSum", "Wh"),
        ("<chargeable>.<name>.statistics.today.costSum", ""),
        ("<chargeable>.<name>.statistics.today.estimatedSavings", ""),
        ("inverters.<name>.statistics.today.earningsSum", ""),
        ("batteries.<name>.chargeState.batteryLevel", "%"),
        ("batteries.<name>.chargeState.chargeRate", "W"),
        ("batteries.<name>.config.operationMode", "text"),
        ("hvacs.<name>.temperatureState.currentTemperature", "°C"),
        ("hvacs.<name>.consumptionRate", "W"),
        ("inverters.<name>.productionState.productionRate", "W"),
        ("meters.<name>.energyState.power", "W"),
        ("<kind>.<name>.isReachable", "bool"),
        ("<kind>.<name>.lastSeen", "text"),
        ("<kind>.<name>.*", "any"),
    )
    # Every command Enode offers a home's devices, by the kind of value it takes
    # (enode_api.command checks it and makes the request).
    TARGETS = (
        ("vehicles.<name>.charging", "charging"),
        ("chargers.<name>.charging", "charging"),
        ("vehicles.<name>.maxCurrent", "maxCurrent"),
        ("chargers.<name>.maxCurrent", "maxCurrent"),
        ("batteries.<name>.operationMode", "operationMode"),
        ("hvacs.<name>.hold", "hold"),
        ("vehicles.<name>.smartOverride", "smartOverride"),
        ("vehicles.<name>.smartCharging", "smartCharging"),
    )
    VALUES = (
        ("charging", "bool", "true (start) / false (stop)"),
        ("maxCurrent", "A", "1–125 (A)"),
        ("operationMode", "text", "`IMPORT_FOCUS`, `EXPORT_FOCUS`, `TIME_OF_USE`, `SELF_RELIANCE`"),
        ("hold", "text", '`"HEAT 21"`, `"COOL 24"`, `"AUTO 19 24"`, `"OFF"` or `FOLLOW_SCHEDULE`'),
        ("smartOverride", "bool", "true / false"),
        ("smartCharging", "bool", "true (on) / false (off)"),
    )
    CHOICES = (("kind", KINDS), ("chargeable", PLACED), ("counted", reads.STAT_KINDS))
    NOT_WRITABLE = "not a writable Enode setting (docs/enode.md lists them)"
    # Its entry in the config (docs/enode.md) and the defaults: Enode's cloud
    # refreshes its data about every 10 minutes, so asking every two minutes is
    # polite, and its data is fresh for half an hour (its lastSeen).
    # The schema (devices/adapter.py), checked by check.common before configure
    # runs; the bare names (the kinds' aliases, charge_away) are checked by configure.
    CONFIG_KEYS = (
        ("environment", "word", ("production", "sandbox")),
        ("api_url", "url"),
        ("token_url", "url"),
        ("user", "text"),
        ("version", "text"),
        ("home_location", "text"),
        ("refresh_after", "duration", 10, 86400),
        ("statistics_poll", "duration", 60, 86400),
        ("insecure_tls", "bool"),
        ("client_id", "secret"),
        ("client_secret", "secret"),
    )
    CONFIG_KEYS += Adapter.COMMON_KEYS + KINDS + ("charge_away",)
    POLL = 120
    STALE_AFTER = 1800
    TIMEOUT = 10
    works = True  # it follows the actions it created
    aged = True  # its values are as old as the device's lastSeen

    @classmethod
    def configure(cls, check):
        """The checked config entry: the common keys, ``aliases`` ({kind: {alias: ID}})
        and the client's credentials from the secrets."""
        spec = check.spec
        device = check.common(cls.CONFIG_KEYS, cls.POLL, cls.STALE_AFTER, cls.TIMEOUT)
        aliases = {}
        for kind in KINDS:
            names = spec.get(kind, {})
            if not isinstance(names, dict):
                check.fail('an object of alias: Enode ID, like {"car": "05ee9df5-..."}', kind)
            for alias in names:
                if not is_alias(alias):
                    check.fail("%r is not a name rules can use (letters, digits, _; not starting with a digit)" % alias, kind)
                if not isinstance(names[alias], str) or not names[alias]:
                    check.fail("the Enode ID, a text in quotes", kind + "." + alias)
            if names:
                aliases[kind] = dict(names)
        if not aliases:
            check.fail('name at least one device, like "batteries": {"home": "<Enode battery ID>"}')
        away = spec.get("charge_away", [])
        if not isinstance(away, list):
            check.fail('a list of the vehicles and chargers that may start charging away from home, like ["car"]', "charge_away")
        for alias in away:
            if not isinstance(alias, str) or (alias not in aliases.get("vehicles", {}) and alias not in aliases.get("chargers", {})):
                check.fail("%r is not a vehicle or charger this entry names" % (alias,), "charge_away")
        device["charge_away"] = list(away)
        device["aliases"] = aliases
        device["environment"] = device.get("environment", "production")
        device["refresh_after"] = device.get("refresh_after", 600)
        device["statistics_poll"] = device.get("statistics_poll", STATISTICS_POLL)
        if not device["client_id"] or not device["client_secret"]:
            check.fail('needs {"client_id": "...", "client_secret": "..."} (your Enode client) under %r in the secrets file' % check.name)
        return device

    @classmethod
    def build(cls, name, spec, mqtt=None, session=None, log=None):
        """The adapter for a config entry checked by :meth:`configure`."""
        token_url, api_url = ENVIRONMENTS[spec.get("environment", "production")]
        return cls(
            name,
            spec.get("api_url", api_url),
            spec.get("token_url", token_url),
            spec.get("client_id"),
            spec.get("client_secret"),
            spec.get("aliases", {}),
            spec.get("user"),
            spec.get("version", VERSION),
            spec.get("timeout", cls.TIMEOUT),
            session,
            log,
            spec.get("refresh_after", 600),
            spec.get("insecure_tls", False),
            home=spec.get("home_location"),
            charge_away=spec.get("charge_away", ()),
            statistics_poll=spec.get("statistics_poll", STATISTICS_POLL),
        )

    @classmethod
    def instance_problem(cls, parts, spec, reading):
        """Why the config entry ``spec`` has no device ``parts[1]`` under ``parts[0]``, or None."""
        if len(parts) > 1 and parts[0] in ONE and parts[1] not in spec.get("aliases", {}).get(parts[0], {}):
            named = sorted(spec.get("aliases", {}).get(parts[0], {}))
            return "the config names no %s %r under %s (%s)" % (ONE[parts[0]], parts[1], parts[0], ", ".join(named) if named else "it names none")
        return None

    @classmethod
    def check_value(cls, target, kind, value):
        """The value if Enode's command for ``kind`` takes it, else ValueRefused saying why."""
        command(target.split(".")[1], kind, "-", value, target)
        return value

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
        timeout=None,
        session=None,
        log=None,
        refresh_after=600,
        insecure=False,
        ticks_ms=None,
        unix_time=None,
        home=None,
        charge_away=(),
        statistics_poll=STATISTICS_POLL,
    ):
        self.name = name
        self.user = user
        self.version = version
        self.aliases = aliases
        self.refresh_after = refresh_after
        self.log = log
        self.ticks_ms = ticks_ms or port.ticks_ms
        self.unix_time = unix_time or port.unix_time
        if timeout is None:
            timeout = self.TIMEOUT
        if not client_id or not client_secret:
            raise DeviceError(name, "config", 'needs {"client_id": "...", "client_secret": "..."} under %r in the secrets file' % name, "config")
        self.api = WebApi(name, api_url, None, insecure, timeout, None, session)
        self.token = Token(name, token_url, client_id, client_secret, timeout, session, insecure)
        self.pending = {}  # target -> Action
        self.ages = {}  # "enode.kind.alias" -> age in s of its data, None when unreachable
        self.hinted = {}  # "kind/id" -> ticks of our last refresh-hint
        self.busy_until = None  # ticks before which Enode asked us to wait
        self.busy_delay = 0
        self.seed = 12345
        self.missing = {}  # "enode.kind.alias" -> True once logged as not found
        # Where vehicles and chargers are, so that no rule starts charging away from
        # home (docs/enode.md): the home location's ID (the config's, else the user's
        # only location, found by the first poll), why there is none, and the
        # aliases that may start anywhere.
        self.home = home
        self.home_asked = False
        self.home_problem = None
        self.charge_away = charge_away
        self.places = {}  # "enode.kind.alias" -> ID of its location, None at none; absent: not said
        # What the 422 refusal names as its cause, and the smart charging switch keeps.
        self.policies = {}  # "enode.vehicles.alias" -> its smartChargingPolicy as last read
        self.scheduled = {}  # "enode.kind.alias" -> True when an enabled schedule names it
        self.owners = {}  # "enode.kind.alias" -> its userId (statistics and schedules are per user)
        # Today's statistics, asked for every statistics_poll: prefix -> (signals, ticks fetched, UTC day).
        self.statistics_poll = statistics_poll
        self.stats = {}
        self.down = None  # the DeviceError saying Enode is down, while /health/ready says so
        self.faults = {}  # "enode.kind.alias" -> True once its fault (Enode up) was logged

    # --- calls ----------------------------------------------------------------

    def request(self, method, path, body=None, probe=False):
        """(status, body bytes) of one API call with the token and the pinned version.

        A 401 fetches a new token and tries once more; 429 and 503 make every
        call wait (Retry-After, else a growing pause with jitter); every other
        failure raises a DeviceError naming the endpoint.  A ``probe``
        (/health/ready) goes even while Enode asked us to wait, and its 503 is
        an answer, not a reason to wait.
        """
        where = "%s %s" % (method, path)
        now = self.ticks_ms()
        if not probe and self.busy_until is not None and port.ticks_diff(self.busy_until, now) > 0:
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
        if probe:
            return status, data
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
        error.status = status  # a 503 may be Enode down (poll asks /health/ready)
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
        """Every aliased device's readings as {signal: value}; ages() says how old each is.

        While Enode is down (/health/ready answers 503) every poll asks only that,
        and fails with the one "Enode is down" error (one log line, every Enode
        signal stale at once); a 5xx from any other call asks it too, so that an
        outage of Enode is told from a fault of one device or endpoint."""
        if self.down is not None:
            self._check_up(None)
        try:
            out = self._poll()
        except DeviceError as e:
            if e.kind == "server" or (e.kind == "busy" and getattr(e, "status", None) == 503):
                self._check_up(e)
            raise
        self._up("its API answers again")
        return out

    def _up(self, how):
        if self.down is not None:
            self.down = None
            self.busy_until, self.busy_delay = None, 0
            self._log("info", self.name, "Enode is up again (%s)" % how)

    def _check_up(self, cause):
        """Ask GET /health/ready: while Enode says it is not ready, raise the
        outage error (``cause``, the failure that made us ask, in its words);
        when it is ready (or cannot be asked), return."""
        try:
            status, _ = self.request("GET", "/health/ready", probe=True)
        except DeviceError:
            status = None  # no answer at all: our network as likely as Enode; the cause stands
        if status is None or 300 <= status < 500:
            return  # no answer, or none that says (a 404 where an older Enode has no such path)
        if 200 <= status < 300:
            self._up("GET /health/ready answered HTTP %d" % status)
            return
        if self.down is None:
            why = " after %s failed (%s)" % (cause.endpoint, clip(cause.message, 60)) if cause is not None else ""
            text = "Enode is down: GET /health/ready answered HTTP %d%s, so this is Enode, not a device" % (status, why)
            # stale: the runner makes the device's signals stale at once
            self.down = DeviceError(self.name, "GET /health/ready", text, "outage", DOWN_RETRY, stale=True)
        raise self.down

    def _poll(self):
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
                if device is None and names[alias] in found:
                    continue  # a fault of its own, logged once
                self._fine(prefix)
                if device is None:
                    if not self.missing.get(prefix):
                        self.missing[prefix] = True
                        whose = " for user " + self.user if self.user else ""
                        self._log("warn", prefix, "Enode has no %s with ID %s%s; its signals stay stale" % (ONE[kind], names[alias], whose))
                    self.places.pop(prefix, None)
                    continue
                self.missing.pop(prefix, None)
                self._read(prefix, device, out, unix_now if clock_set else None)
                if kind in PLACED:
                    self._place(prefix, device)
        if not self.home_asked and (self.aliases.get("vehicles") or self.aliases.get("chargers")):
            self._find_home()  # after the devices: a failure that is not about locations has raised by now
        if self.home is not None:
            for prefix in self.places:
                out[prefix + ".atHome"] = self.places[prefix] == self.home
        self._more(out, unix_now if clock_set else None)
        self._hint()
        return out

    # --- smart charging, schedules, statistics ----------------------------------

    def _asked(self, start):
        """True if the rules read a signal starting with ``start`` (always for `read`)."""
        if not self.wanted:
            return True
        for name in self.wanted:
            if name.startswith(start):
                return True
        return False

    def _more(self, out, unix_now):
        """The readings beside the device objects (enode_reads), each only when
        the rules read it: a vehicle's smart charging status, the schedule of a
        vehicle or charger, and today's statistics every statistics_poll."""
        schedules = False  # not asked yet this poll (None: could not be)
        for kind in reads.STAT_KINDS:
            names = self.aliases.get(kind, {})
            for alias in names:
                prefix = "%s.%s.%s" % (self.name, kind, alias)
                if prefix not in self.ages:
                    continue  # Enode has no such device (logged)
                if kind == "vehicles" and self._asked(prefix + ".smartChargingStatus."):
                    status = self._extra(prefix, reads.status_path(names[alias]))
                    if isinstance(status, dict):
                        reads.put_status(status, prefix, out)
                if kind != "inverters" and self._asked(prefix + ".schedule."):
                    if schedules is False:
                        user = self.user or self.owners.get(prefix)
                        schedules = reads.schedules_of(self._extra(self.name + ".schedules", reads.schedules_path(user))) if user else None
                    if schedules is not None:
                        self._schedule(prefix, names[alias], schedules, out)
                if unix_now is not None and self._asked(prefix + ".statistics."):
                    self._statistics(prefix, kind, names[alias], unix_now, out)

    def _extra(self, key, path):
        """The JSON answer of GET ``path``, or None when it fails (logged once per
        ``key`` and endpoint); an outage of Enode, or its asking us to wait, fails the poll."""
        try:
            answer = self.call_json("GET", path)
        except DeviceError as e:
            if e.kind == "server" or (e.kind == "busy" and getattr(e, "status", None) == 503):
                self._check_up(e)
            if e.kind == "busy":
                raise
            self._once(key + " " + path.split("?")[0], "%s; those signals go stale" % e)
            return None
        self._fine(key + " " + path.split("?")[0])
        return answer

    def _schedule(self, prefix, device_id, schedules, out):
        count, enabled = reads.schedule_for(schedules, device_id)
        self.scheduled[prefix] = enabled is not None
        status = None
        if enabled is not None and isinstance(enabled.get("id"), str):
            status = self._extra(prefix, "/schedules/%s/status" % quote(enabled["id"]))
        reads.put_schedule(count, enabled, status, prefix, out)

    def _statistics(self, prefix, kind, device_id, unix_now, out):
        """Today's statistics of one device into ``out``: asked for every
        statistics_poll (a failure too waits that long) and when the UTC day
        changes; in between, as last read, as old as that reading."""
        now = self.ticks_ms()
        day = reads.day_of(unix_now)
        kept = self.stats.get(prefix)  # (signals, ticks read, UTC day, ticks asked)
        if kept is not None and kept[2] != day:
            kept = None  # yesterday's figures are not today's
        if kept is None or port.ticks_diff(now, kept[3]) >= self.statistics_poll * 1000:
            user = self.user or self.owners.get(prefix)
            answer = self._extra(prefix, reads.statistics_path(user, kind, device_id, day)) if user else None
            got = {}
            if reads.put_statistics(answer, prefix, got):
                kept = (got, now, day, now)
            else:
                kept = (kept[0], kept[1], day, now) if kept is not None else ({}, now, day, now)
            self.stats[prefix] = kept
        for name in kept[0]:
            out[name] = kept[0][name]

    def _once(self, key, text):
        """Log a fault of one device or endpoint once, until it answers again."""
        if not self.faults.get(key):
            self.faults[key] = True
            self._log("warn", key.split(" ")[0], text)

    def _fine(self, key):
        if self.faults.pop(key, None):
            self._log("info", key.split(" ")[0], "answers again")

    def _devices(self, kind, names):
        """{Enode ID: device object} for one kind: the user's list (every page) or one GET per ID."""
        found = {}
        if self.user is None:
            for alias in names:
                path = "/%s/%s" % (kind, names[alias])
                status, data = self.request("GET", path)
                if status == 404:
                    continue
                if not 200 <= status < 300:
                    error = problem_error(self.name, "GET " + path, status, data)
                    if error.kind == "server":
                        self._check_up(error)  # raises when Enode itself is down
                    if error.kind not in ("server", "vendor"):
                        raise error
                    # Enode is up: this device (or its vendor) fails; the others are read.
                    found[names[alias]] = None
                    why = "Enode itself is up (GET /health/ready), so this is the device or its vendor: its signals go stale"
                    self._once("%s.%s.%s" % (self.name, kind, alias), "%s; %s" % (error, why))
                    continue
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
        for field in KW_FIELDS:
            name = prefix + "." + field
            value = out.get(name)
            if is_number(value):
                out[name] = round(value * 1000, 3)
        if isinstance(device.get("userId"), str):
            self.owners[prefix] = device["userId"]  # schedules and statistics are the user's
        policy = device.get("smartChargingPolicy")
        if isinstance(policy, dict):
            self.policies[prefix] = policy
        seen = iso_unix(device.get("lastSeen"))
        if device.get("isReachable") is False:
            self.ages[prefix] = None  # Enode cannot reach it: what it last said is not now
        elif unix_now is None or seen is None:
            self.ages[prefix] = 0  # no clock (or no lastSeen): as fresh as this poll
        else:
            self.ages[prefix] = max(0, unix_now - seen)

    # --- where vehicles and chargers are ---------------------------------------

    def _place(self, prefix, device):
        """Keep where Enode places the device: its atHome signal and the start check."""
        place = location_of(device)
        if place is False:
            self.places.pop(prefix, None)
        else:
            self.places[prefix] = place

    def _find_home(self):
        """The home location: the config's home_location, checked once (GET
        /locations/{id}), else the user's only one (GET /users/{user}/locations, or
        /locations without a user), asked for each poll until there is one.  While
        there is none, home_problem says why, and every start is refused."""
        if self.home is not None:
            try:
                self._log("info", self.name, "home: Enode location " + named(self.call_json("GET", "/locations/" + quote(self.home))))
            except DeviceError as e:
                if e.kind == "busy":
                    return  # asked again next poll
                if e.kind == "missing":
                    self.home_problem = "Enode has no location %s (the config's home_location)" % self.home
                    self.home = None
                self._log("warn", self.name, "could not check the home location: %s" % e)
            self.home_asked = True  # what the config says stands unless Enode has no such location
            return
        path = ("/users/%s/locations" % quote(self.user) if self.user else "/locations") + "?pageSize=%d" % HOME_PAGE
        try:
            home, why = pick_home(self.call_json("GET", path))
        except DeviceError as e:
            if e.kind == "busy":
                return  # asked again next poll
            home, why = None, "could not list the user's locations: %s" % e
        if home is not None:
            self.home, self.home_asked, self.home_problem = home, True, None
            self._log("info", self.name, "home: " + why)
        elif why != self.home_problem:
            self.home_problem = why
            self._log("warn", self.name, why + "; every start of charging is refused until then")

    def _check_start(self, target, kind, method, path, body):
        """DeviceError if this write would start or stop charging a vehicle or
        charger that Enode does not place at home, unless its alias is in
        charge_away: sunshift switches charging only at home, so a rule's `else`
        never stops a car charging at a public charger either (the stop waits,
        and goes when the car is home)."""
        if isinstance(body, dict):
            switches, starts = body.get("action") in ("START", "STOP"), body.get("action") == "START"
        else:
            switches, starts = path.endswith("/smart-override"), method == "POST"
        alias = target.split(".")[2]
        if not switches or kind not in PLACED or alias in self.charge_away:
            return
        place = self.places.get("%s.%s.%s" % (self.name, kind, alias), False)
        one = "%s %r" % (ONE[kind], alias)
        if self.home is None:
            why = self.home_problem or "the home location is not known yet"
        elif place is False:
            why = "Enode has not said where the %s is" % one
        elif place == self.home:
            return
        elif place is None:
            why = "Enode places the %s at none of the user's locations (a public charger, or on the road)" % one
        else:
            why = "Enode places the %s at location %s, not at home (%s)" % (one, clip(place), self.home)
        verb = "start" if starts else "stop"
        raise DeviceError(self.name, target, 'no %s away from home: %s; "charge_away": ["%s"] in the config allows it' % (verb, why, alias), "away")

    def report_of(self, target):
        """The signal in which Enode reports a setting: charging as the device's
        isCharging (true or false: a rule that writes `true`/`false` is read back
        exactly; `start`/`stop` are sent once after a start), a battery's
        operation mode; None for the others."""
        parts = target.split(".")
        if len(parts) == 4 and parts[3] == "charging":
            return "%s.%s.%s.chargeState.isCharging" % tuple(parts[:3])
        if len(parts) == 4 and parts[3] == "operationMode":
            return "%s.%s.%s.config.operationMode" % tuple(parts[:3])
        if len(parts) == 4 and parts[3] == "smartCharging":
            return "%s.%s.%s.smartChargingPolicy.isEnabled" % tuple(parts[:3])
        return None

    def age_of(self, signal):
        """How old the value of ``signal`` is in seconds (0: now), None when its
        device is unreachable (the signal is stale at once)."""
        if signal.endswith(".isReachable") or signal.endswith(".lastSeen"):
            return 0  # these say how things are now
        parts = signal.split(".", 4)
        prefix = ".".join(parts[:3])
        if len(parts) > 4 and parts[3] in ("smartChargingStatus", "schedule"):
            return 0  # Enode's own state, worked out now, not the vendor's data
        if len(parts) > 4 and parts[3] == "statistics":
            kept = self.stats.get(prefix)
            return 0 if kept is None else max(0, port.ticks_diff(self.ticks_ms(), kept[1]) // 1000)
        return self.ages.get(prefix, 0)

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
        parts = self.find(target)[0]
        problem = self.instance_problem(parts, {"aliases": self.aliases}, False)
        if problem:
            raise DeviceError(self.name, target, problem, "refused")
        kind, alias, setting = parts
        return kind, setting, self.aliases[kind][alias]

    def describe(self, target, value):
        """The request a write would send, for dry-run: 'POST /batteries/ID/operation-mode {...}'."""
        kind, setting, device_id = self.resolve(target)
        method, path, body = command(kind, setting, device_id, value, target)
        self._check_start(target, kind, method, path, body)
        return "create an Enode action: %s %s%s" % (method, path, "" if body is None else " " + port.json_dumps(body))

    def write(self, target, value):
        """Create the action that sets ``target`` (cancelling our own pending one for it)."""
        kind, setting, device_id = self.resolve(target)
        method, path, body = command(kind, setting, device_id, value, target)
        self._check_start(target, kind, method, path, body)
        if self.down is not None:
            raise DeviceError(self.name, target, "not sent: Enode is down (GET /health/ready); tried again when it is up", "busy", DOWN_RETRY)
        if setting == "smartCharging":
            self._switch_smart(target, body, method, path)
            return
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
            raise problem_error(self.name, "%s %s" % (method, path), status, data, self._way_out(target, kind) if status == 422 else "")
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
        self._log("info", target, "Enode action %s created (%s %s); following it" % (clip(action_id), method, path))

    def _way_out(self, target, kind):
        """What a 422 refusal adds: what controls the device, as far as we read
        it, and the target that switches it off."""
        prefix = target.rsplit(".", 1)[0]
        policy = self.policies.get(prefix)
        smart = isinstance(policy, dict) and policy.get("isEnabled") is True
        if kind == "vehicles" and (smart or not self.scheduled.get(prefix)):
            said = "its smart charging policy is on" if smart else "smart charging or a schedule"
            return "; %s: %s.smartCharging = false switches Enode's smart charging off, %s.smartOverride = true charges now despite it" % (said, prefix, prefix)
        if self.scheduled.get(prefix):
            return "; an enabled Enode schedule controls it (%s.schedule.isEnabled): disable it in the Enode app" % prefix
        return "; turn Enode's smart features for it off in the Enode app"

    def _switch_smart(self, target, body, method, path):
        """Switch a vehicle's smart charging (PUT .../smart-charging-policy): the
        deadline and minimum as last read go along, so only isEnabled changes.
        Enode answers with the policy; there is no action to follow."""
        prefix = target.rsplit(".", 1)[0]
        known = self.policies.get(prefix) or {}
        for key in ("deadline", "minimumChargeLimit"):
            if known.get(key) is not None:
                body[key] = known[key]
        status, data = self.request(method, path, body)
        if not 200 <= status < 300:
            raise problem_error(self.name, "%s %s" % (method, path), status, data)
        answer = self.api.parse(method, path, data) if data else None
        if not isinstance(answer, dict) or not isinstance(answer.get("isEnabled"), bool):
            raise DeviceError(self.name, "%s %s" % (method, path), "bad answer: not a smart charging policy", "body")
        self.policies[prefix] = answer
        on = answer["isEnabled"]
        text = "Enode's smart charging is %s" % ("on" if on else "off")
        if on and not answer.get("deadline"):
            self._log("warn", target, text + ", but without a deadline it plans nothing: set one in the Enode app")
        else:
            self._log("info", target, text + (" (deadline %s)" % clip(answer["deadline"]) if on else ""))

    def _cancel(self, action):
        """Cancel our pending action; an action that already ended cannot be (409), which is fine."""
        del self.pending[action.target]
        path = "/%s/actions/%s/cancel" % (action.kind, action.id)
        try:
            status, data = self.request("POST", path)
        except DeviceError as e:
            self._log("warn", action.target, "could not cancel action %s: %s" % (clip(action.id), e))
            return
        if 200 <= status < 300:
            self._log("info", action.target, "cancelled our pending action %s (the rule changed its mind)" % clip(action.id))
        elif status == 409:
            self._log("info", action.target, "action %s had already ended before the cancel" % clip(action.id))
        else:
            self._log("warn", action.target, "could not cancel action %s: %s" % (clip(action.id), problem_error(self.name, "POST " + path, status, data)))

    def work(self, now_ms=None):
        """Look at every pending action that is due; log the ones that ended.  Never raises."""
        now = self.ticks_ms() if now_ms is None else now_ms
        if self.down is not None:
            return  # Enode is down: its actions are looked at when it is up
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
                    self._log("warn", target, "Enode no longer knows action %s; the rule's next decision tries again" % clip(action.id))
                    continue
                self._later(action, now, e.retry_after)
                continue
            except (SunshiftError, ValueError) as e:
                self._later(action, now, None)
                self._log("warn", target, "could not look at action %s: %s" % (clip(action.id), e))
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
            self._log("info", action.target, "Enode confirmed %s (action %s, after %d s)" % (_shown(action.value), clip(action.id), took))
            return
        reason = answer.get("failureReason")
        why = ""
        if isinstance(reason, dict):
            why = ": " + ", ".join(clip(reason[k]) for k in ("type", "detail") if reason.get(k))  # Enode's words
        if state == "FAILED":
            text = "Enode could not set %s (action %s failed%s); the rule's next decision tries again" % (_shown(action.value), clip(action.id), why)
            self._log("warn", action.target, text)
        else:
            self._log("info", action.target, "Enode cancelled action %s for %s%s" % (clip(action.id), _shown(action.value), why))

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
    return clip(value)
