"""The Envoy capture corpus (tests/fixtures/envoy): which file answers a request, and how.

Plain Python that runs on MicroPython too: the Envoy simulator serves these
answers over HTTP, and the portable tests replay them without sockets.
"""

import os

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
ROOT = HERE.rsplit("/", 2)[0] if HERE.count("/") >= 2 else ".."
CORPUS = ROOT + "/tests/fixtures/envoy"


def variants():
    """Names of every variant folder in the corpus."""
    out = []
    for name in os.listdir(CORPUS):
        try:
            if os.stat(CORPUS + "/" + name)[0] & 0x4000:
                out.append(name)
        except OSError:
            pass
    return sorted(out)


def file_for(path):
    """The capture's file name for a request path ('/ivp/meters' -> 'ivp_meters')."""
    return path.split("?")[0].lstrip("/").replace("/", "_")


def status_of(body):
    """The HTTP status the real Envoy sent with a captured body."""
    head = body[:400]
    if b"Error: 401" in head or b"401 Unauthorized" in head or b"401 Authorization Required" in head:
        return 401
    if b'"status"' in head and b"401" in head:
        return 401
    if b"404 - Not Found" in head or b"Page Not Found" in head or b"<title>error</title>" in head:
        return 404
    return 200


def content_type(name, body):
    """A plausible Content-Type for a captured body."""
    stripped = body.lstrip()
    if name == "info":
        return "text/xml"
    if stripped.startswith(b"<"):
        return "text/html"
    if stripped.startswith(b"{") or stripped.startswith(b"["):
        return "application/json"
    return "text/plain"


def read(variant, name):
    """A captured file's bytes, or None if the variant has no such file."""
    try:
        with open(CORPUS + "/" + variant + "/" + name, "rb") as f:
            return f.read()
    except OSError:
        return None


def firmware(variant):
    """The firmware major version of a variant, from its /info (0 if unknown)."""
    body = read(variant, "info") or b""
    at = body.find(b"<software>")
    if at < 0:
        return 0
    digits = ""
    for c in body[at + 10 : at + 20].decode("utf-8", "replace"):
        if "0" <= c <= "9":
            digits += c
        elif digits:
            break
    return int(digits) if digits else 0


NOT_FOUND = b'{ "error" : "404 - Not Found" }'


def answer(variant, path, hide=(), details_file="production.json"):
    """(status, content type, body) the variant's Envoy gives for ``path``.

    Like pyenphase's harness, /production.json?details=1 is answered with the
    production.json capture (``details_file`` picks another); ``hide`` names
    files answered 404.
    """
    name = file_for(path)
    if not name or name in hide:
        return 404, "application/json", NOT_FOUND
    body = read(variant, details_file if name == "production.json" else name)
    if body is None:
        return 404, "application/json", NOT_FOUND
    return status_of(body), content_type(name, body), body


SIGNALS = {"production": "envoy.production", "consumption": "envoy.total_consumption", "net_consumption": "envoy.net_consumption"}
_expected = {}


def expected(variant, alternative=None):
    """{signal: W} a correct reader gives for a variant (or for one of its
    single-endpoint ``alternative``s), from expected.json."""
    if not _expected:
        import json

        _expected.update(json.loads(read("", "expected.json"))["variants"])
    e = _expected[variant]
    if alternative is not None:
        e = e["alt_sources_computed"][alternative]
    out = {}
    for key, signal in (("production_w", "envoy.production"), ("consumption_w", "envoy.total_consumption"), ("net_consumption_w", "envoy.net_consumption")):
        if e.get(key) is not None:
            out[signal] = e[key]
    for kind, lines in (e.get("phases") or {}).items():
        for line, watts in lines.items():
            out["%s.%s" % (SIGNALS[kind], line)] = watts
    return out


CT_SIGNALS = {"production": "envoy.production", "net-consumption": "envoy.net_consumption", "total-consumption": "envoy.total_consumption"}


def expected_readings(variant):
    """{signal: W} of a variant whose production CT is read from
    /ivp/meters/readings: pyenphase's CT figures (ct_meters_w and its phases),
    the total worked out as production + net (or net as total - production),
    and the storage CT as the battery's power; {} for a variant without."""
    expected(variant)
    e = _expected[variant]
    ct = e.get("ct_meters_w") or {}
    if "production" not in ct:
        return {}
    out = {}
    figures = [(CT_SIGNALS[kind], ct[kind], (e.get("ct_meters_phases_w") or {}).get(kind) or {}) for kind in CT_SIGNALS if kind in ct]
    if "net-consumption" in ct and "total-consumption" not in ct:
        lines = {}
        for line, watts in ((e.get("ct_meters_phases_w") or {}).get("production") or {}).items():
            lines[line] = watts + e["ct_meters_phases_w"]["net-consumption"][line]
        figures.append(("envoy.total_consumption", ct["production"] + ct["net-consumption"], lines))
    elif "total-consumption" in ct and "net-consumption" not in ct:
        lines = {}
        for line, watts in ((e.get("ct_meters_phases_w") or {}).get("total-consumption") or {}).items():
            lines[line] = watts - e["ct_meters_phases_w"]["production"][line]
        figures.append(("envoy.net_consumption", ct["total-consumption"] - ct["production"], lines))
    for signal, watts, lines in figures:
        out[signal] = watts
        for line in lines:
            out["%s.%s" % (signal, line)] = lines[line]
    if "storage" in ct:
        out["envoy.battery.power"] = ct["storage"]
    return out


POWER = ("envoy.production", "envoy.total_consumption", "envoy.net_consumption")


def power(signals, want):
    """The figures of a reading that expected.json can state: the CTs' power
    and phases, and what else ``want`` names (the storage CT's power); not the
    energy counters, the batteries' own reports or the inverters."""
    out = {}
    for name in signals:
        at = name.rfind(".")
        if name in POWER or name in want or (name[:at] in POWER and name[at + 1 : at + 2] == "L"):
            out[name] = signals[name]
    return out


def alternatives(variant):
    """Names of a variant's single-endpoint alternatives in expected.json."""
    expected(variant)
    return sorted(_expected[variant].get("alt_sources_computed") or {})
