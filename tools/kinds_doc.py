#!/usr/bin/env python3
"""Write the table of every device kind in docs/signals.md from the table of kinds.

    python3 tools/kinds_doc.py           print the section
    python3 tools/kinds_doc.py --write   put it into docs/signals.md (between its markers)

The section comes from sunshift.devices.kinds and each adapter's class data:
its config keys and defaults, its transports, the SIGNALS it produces with
their units and the TARGETS it takes with their VALUES (unit and words).  So the docs say
what the code does; tests/host/test_docs.py fails when they part.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "lib"))

from sunshift.devices import kinds  # noqa: E402
from sunshift.units import format_duration  # noqa: E402

DOC = os.path.join(ROOT, "docs", "signals.md")
BEGIN = "<!-- kinds: begin (python3 tools/kinds_doc.py --write) -->"
END = "<!-- kinds: end -->"

UNITS = {"bool": "true/false", "text": "text", "": "a number", "any": "as the device gives it"}


def shown(kind, pattern, choices):
    """A pattern as the docs write it: the device's default name first, `…` for further parts."""
    parts = []
    for part in pattern.split("."):
        if part == "*":
            part = "…"
        parts.append(part)
    text = "`%s.%s`" % (kind, ".".join(parts))
    for name, words in choices:
        if "<%s>" % name in pattern:
            text += " (`<%s>`: %s)" % (name, ", ".join(words))
    return text


def section():
    """The generated markdown."""
    out = [BEGIN, "", "## Every kind at a glance", ""]
    out.append(
        "Generated from the adapters (`lib/sunshift/devices/`): what each kind of device"
        " offers and takes, under its default name (a device named otherwise in the config"
        " puts its own name first). `<n>` is a number from 1, `<name>` a name (a vehicle, an"
        " alias in the config), `…` any further parts of the device's own names."
    )
    for kind in kinds.names():
        cls = kinds.adapter_class(kind)
        transports = ["REST"]
        if kinds.modules(kind, "mqtt") != kinds.modules(kind, "rest"):
            transports.append("MQTT")
        out += ["", '### %s (`"type": "%s"`)' % (cls.title, kind), ""]
        defaults = "poll every %s, timeout %s" % (format_duration(cls.POLL), format_duration(cls.TIMEOUT))
        if cls.STALE_AFTER:
            defaults += ", stale after %s" % format_duration(cls.STALE_AFTER)
        keys = ["type"] + [k if isinstance(k, str) else k[0] for k in cls.CONFIG_KEYS if isinstance(k, str) or k[1] != "secret"]
        secrets = [k[0] for k in cls.CONFIG_KEYS if not isinstance(k, str) and k[1] == "secret"]
        where = "; secrets %s" % ", ".join("`%s`" % k for k in secrets) if secrets else ""
        out.append("Read over %s; config keys %s%s; %s." % (" or ".join(transports), ", ".join("`%s`" % k for k in keys), where, defaults))
        out += ["", "| signal | unit |", "|---|---|"]
        for pattern, unit in cls.SIGNALS:
            out.append("| %s | %s |" % (shown(kind, pattern, cls.CHOICES), UNITS.get(unit, unit)))
        if not cls.TARGETS:
            out += ["", "No targets: it is only read."]
            continue
        out += ["", "| target | value |", "|---|---|"]
        for pattern, value in cls.TARGETS:
            if cls.value_of(value) is None:
                raise SystemExit("tools/kinds_doc.py: %s's VALUES has no unit and words for its targets' kind %r" % (cls.__name__, value))
            out.append("| %s | %s |" % (shown(kind, pattern, cls.CHOICES), cls.value_of(value)[1]))
    out += ["", END]
    return "\n".join(out) + "\n"


def with_section(text):
    """``text`` (docs/signals.md) with the section between its markers replaced."""
    start = text.index(BEGIN)
    end = text.index(END) + len(END) + 1
    return text[:start] + section() + text[end:]


def main(argv):
    if argv == ["--write"]:
        with open(DOC, encoding="utf-8") as f:
            text = f.read()
        with open(DOC, "w", encoding="utf-8") as f:
            f.write(with_section(text))
        print("wrote the table of kinds into %s" % os.path.relpath(DOC))
        return 0
    if argv:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    sys.stdout.write(section())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
