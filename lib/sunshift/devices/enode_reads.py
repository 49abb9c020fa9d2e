"""Enode's readings beside the device objects, as signals: a vehicle's smart
charging status, the schedule that controls a vehicle or charger, and today's
statistics (energy and cost) of a vehicle, charger or inverter.  enode.py asks
for them only when the rules read them (``read`` shows them all); this module
turns Enode's answers into signals and says which request gives them.
"""

from .. import port
from .adapter import flatten
from .enode_api import quote

# Parts of a status, plan or schedule that are IDs or deprecated copies, not readings.
SKIP = ("id", "vehicleId", "userId", "vendor", "locationId", "chargingLocationId", "scheduleId", "targetId", "externalStart", "vendorActionId")
# The kinds whose charging Enode counts (GET /users/{user}/statistics/charging),
# and the one whose production it counts (.../statistics/production), by the
# `type` Enode's query takes.
STAT_KINDS = ("vehicles", "chargers", "inverters")
STAT_TYPES = {"vehicles": ("charging", "vehicle"), "chargers": ("charging", "charger"), "inverters": ("production", "inverter")}
# The figures of a day's statistics kept as signals; kwhSum is read as Wh (below).
STAT_FIELDS = ("kwhSum", "costSum", "estimatedSavings", "earningsSum")
DAY = 86400


def put(value, prefix, out):
    """Every reading of a JSON object into ``out`` as prefix.key..., IDs left out."""
    if isinstance(value, dict):
        for key in value:
            if key not in SKIP:
                put(value[key], prefix + "." + key, out)
    else:
        flatten(value, prefix, out)


def status_path(vehicle_id):
    """The request for a vehicle's smart charging status."""
    return "/vehicles/%s/smart-charging-status" % vehicle_id


def put_status(status, prefix, out):
    """A vehicle's smart charging status as <prefix>.smartChargingStatus.*: its
    state ("DISABLED", "PLAN:EXECUTING:STOPPED", …), consideration.*, plan.*
    (times and costs) and smartOverride.*, with smartOverride.isActive."""
    base = prefix + ".smartChargingStatus"
    put(status, base, out)
    override = status.get("smartOverride")
    out[base + ".smartOverride.isActive"] = isinstance(override, dict) and override.get("endedAt") is None


def schedules_path(user):
    """The request for a user's schedules (2023-08-01 on: under the user)."""
    return "/users/%s/schedules?pageSize=50" % quote(user)


def schedules_of(answer):
    """The schedules in an answer to GET /users/{user}/schedules: a page
    ({data, pagination}) or, as before 2023-08-01, a bare list."""
    if isinstance(answer, dict):
        answer = answer.get("data")
    if not isinstance(answer, list):
        return None
    return [s for s in answer if isinstance(s, dict)]


def schedule_for(schedules, device_id):
    """(how many schedules name the device, the enabled one or None)."""
    count, enabled = 0, None
    for schedule in schedules:
        if schedule.get("targetId", schedule.get("chargeableId")) == device_id:
            count += 1
            if schedule.get("isEnabled") and enabled is None:
                enabled = schedule
    return count, enabled


def put_schedule(count, schedule, status, prefix, out):
    """The schedule controlling a device as <prefix>.schedule.*: count (schedules
    that name it), isEnabled (one of them is on: Enode then refuses manual
    charging), defaultShouldCharge, rules (how many) and, from its status,
    state, isCharging, isChargingExpected(Parts.*) and upcomingTransitions.*."""
    base = prefix + ".schedule"
    out[base + ".count"] = count
    out[base + ".isEnabled"] = schedule is not None
    if schedule is None:
        return
    if isinstance(schedule.get("defaultShouldCharge"), bool):
        out[base + ".defaultShouldCharge"] = schedule["defaultShouldCharge"]
    if isinstance(schedule.get("rules"), list):
        out[base + ".rules"] = len(schedule["rules"])
    if isinstance(status, dict):
        put(status, base, out)


def day_of(unix_now):
    """The Unix time of the start of the UTC day ``unix_now`` is in (Enode
    buckets statistics in UTC days)."""
    return int(unix_now) - int(unix_now) % DAY


def statistics_path(user, kind, device_id, day):
    """The request for one device's statistics since the UTC midnight ``day``, by day."""
    which, what = STAT_TYPES[kind]
    y, mo, d = port.utc_parts(day)[:3]
    start = "%04d-%02d-%02dT00:00:00.000Z" % (y, mo, d)
    return "/users/%s/statistics/%s?startDate=%s&resolution=DAY&type=%s&id=%s" % (quote(user), which, start, what, quote(device_id))


def put_statistics(answer, prefix, out):
    """Today's figures of an answer to a statistics request (a list of day
    buckets, the last one today's) as <prefix>.statistics.today.*: kwhSum in Wh
    (Enode's kWh times 1000, as every energy in a rule), costSum, estimatedSavings
    (charging) or earningsSum (production) in the user's currency.  No bucket
    is a day with nothing counted yet: 0 kWh.  False if the answer is no list."""
    if isinstance(answer, dict):
        answer = answer.get("data")
    if not isinstance(answer, list):
        return False
    base = prefix + ".statistics.today."
    bucket = answer[-1] if answer and isinstance(answer[-1], dict) else {"kwhSum": 0}
    for key in STAT_FIELDS:
        value = bucket.get(key)
        if type(value) is not bool and isinstance(value, (int, float)):
            out[base + key] = round(value * 1000, 3) if key == "kwhSum" else value
    return True
