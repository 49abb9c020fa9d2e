"""Units: how numbers with units are read from rules and written in reasons.

Every value is kept in a base unit (W, Wh, %, degrees C, s, A, V); a unit only
scales the number and tells what kind of quantity it is (its dimension), so
``1.4kW`` is 1400 of power and ``5m`` is 300 of time.
"""

from .errors import clip
from .port import const

NONE = const(0)
POWER = const(1)
ENERGY = const(2)
PERCENT = const(3)
TEMPERATURE = const(4)
TIME = const(5)
CURRENT = const(6)
VOLTAGE = const(7)
PRICE = const(8)  # money per kWh, in the currency the tariff is in (evcc's "currency")
CO2 = const(9)  # grams of CO2 per kWh

DIMENSION_NAMES = {
    POWER: "a power",
    ENERGY: "an energy",
    PERCENT: "a percentage",
    TEMPERATURE: "a temperature",
    TIME: "a duration",
    CURRENT: "a current",
    VOLTAGE: "a voltage",
    PRICE: "a price",
    CO2: "a CO2 intensity",
}

# unit -> (factor to the base unit, dimension)
UNITS = {
    "W": (1, POWER),
    "kW": (1000, POWER),
    "Wh": (1, ENERGY),
    "kWh": (1000, ENERGY),
    "%": (1, PERCENT),
    "°C": (1, TEMPERATURE),
    "degC": (1, TEMPERATURE),
    "s": (1, TIME),
    "m": (60, TIME),
    "min": (60, TIME),
    "h": (3600, TIME),
    "A": (1, CURRENT),
    "V": (1, VOLTAGE),
    "/kWh": (1, PRICE),
    "ct/kWh": (-100, PRICE),  # a negative factor divides: 30ct/kWh is 0.3 /kWh
    "g/kWh": (1, CO2),
}

UNIT_LIST = "W, kW, Wh, kWh, %, °C, s, m, h, A, V, /kWh, ct/kWh, g/kWh"

# How a price reads in reasons: the symbol of the currency the device reports
# (evcc's "currency"), set by whoever knows it (set_currency); a price per kWh
# without one when nobody has said.
CURRENCY_SIGNS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF", "SEK": "kr", "NOK": "kr", "DKK": "kr"}
currency = [""]


def set_currency(code):
    """Show prices in reasons with the sign of the currency ``code`` ("EUR": €;
    None or "": none)."""
    if not code:
        currency[0] = ""
    elif isinstance(code, str) and len(code) <= 8:
        currency[0] = CURRENCY_SIGNS.get(code.upper(), code)


# Digits allowed in one number literal: enough for any meter, small enough that
# a pasted blob does not become a huge integer on a board.
MAX_DIGITS = const(15)


def suggest_unit(text):
    """The unit the user probably meant by ``text`` (for example 'kw' -> 'kW'), or None."""
    low = text.lower()
    for unit in UNITS:
        if unit.lower() == low:
            return unit
    aliases = {
        "c": "°C",
        "sec": "s",
        "secs": "s",
        "second": "s",
        "seconds": "s",
        "mins": "m",
        "minute": "m",
        "minutes": "m",
        "hr": "h",
        "hrs": "h",
        "hour": "h",
        "hours": "h",
        "kwatt": "kW",
        "watt": "W",
        "watts": "W",
    }
    return aliases.get(low)


def scale(digits, factor):
    """The exact value of the decimal text ``digits`` times ``factor``.

    Integer arithmetic keeps ``1.4`` kW at exactly 1400 rather than 1400.0000000000002.
    A negative factor divides (``30`` ct is 0.3).
    """
    if factor < 0:
        whole = scale(digits, 1)
        return whole // -factor if whole % -factor == 0 else whole / -factor
    if "." in digits:
        whole, frac = digits.split(".")
        n = int(whole + frac) * factor
        d = 10 ** len(frac)
    else:
        n = int(digits) * factor
        d = 1
    if n % d == 0:
        return n // d
    return n / d


def _trim(text):
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        return "0"
    return text


def format_number(value, places=2):
    """A number with at most ``places`` decimals and no trailing zeros."""
    if type(value) is int or value - value != 0:
        return str(value)
    return _trim(("%." + str(places) + "f") % value)


def format_duration(seconds):
    """A duration the way rules write it: '2m', '1h30m', '45s', '1.5s'."""
    if type(seconds) is not int:
        if seconds - seconds != 0:
            return str(seconds)  # nan or inf
        if seconds < 10 and seconds != int(seconds):
            return format_number(seconds, 1) + "s"
        seconds = int(seconds + 0.5)
    if seconds < 0:
        return "-" + format_duration(-seconds)
    hours = seconds // 3600
    minutes = (seconds % 3600) // 60
    rest = seconds % 60
    text = ""
    if hours:
        text += "%dh" % hours
    if minutes:
        text += "%dm" % minutes
    if rest or not text:
        text += "%ds" % rest
    return text


def format_clock(seconds):
    """'HH:MM' for seconds after midnight."""
    seconds = int(seconds)
    return "%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60)


def _pair(value, small_unit, big_unit):
    if abs(value) >= 1000:
        return format_number(value / 1000, 2) + " " + big_unit
    return format_number(value, 0 if abs(value) >= 10 else 1) + " " + small_unit


def format_value(value, dimension=NONE):
    """A value as a reason shows it: '1.52 kW', '250 W', '55%', '"pv"', 'unknown'
    (a text clipped and escaped: it may be a device's, errors.clip)."""
    if value is None:
        return "unknown"
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, str):
        return clip(value, quote='"')
    if dimension == POWER:
        return _pair(value, "W", "kW")
    if dimension == ENERGY:
        return _pair(value, "Wh", "kWh")
    if dimension == PERCENT:
        return format_number(value, 1) + "%"
    if dimension == TEMPERATURE:
        return format_number(value, 1) + " °C"
    if dimension == TIME:
        return format_duration(value)
    if dimension == CURRENT:
        return format_number(value, 1) + " A"
    if dimension == VOLTAGE:
        return format_number(value, 1) + " V"
    if dimension == PRICE:
        return format_number(value, 3 if abs(value) < 1 else 2) + " " + currency[0] + "/kWh"
    if dimension == CO2:
        return format_number(value, 0) + " g/kWh"
    return format_number(value, 2)


def is_number(value):
    """True for int and float, False for bool (an int on CPython, not on MicroPython)."""
    t = type(value)
    return t is int or t is float


def same_value(a, b):
    """Equality that keeps True apart from 1 (CPython says True == 1)."""
    if type(a) is bool or type(b) is bool:
        return a is b
    return a == b
