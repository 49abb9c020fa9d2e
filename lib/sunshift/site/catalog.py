"""What a site's devices offer, for checking rules before anything runs.

The names come from the table of kinds (devices/kinds.py) and each adapter's
SIGNALS and TARGETS, the values a target takes from the adapter's own
check_value (the one a real write calls) and the instances from the config
(EMS-ESP's devices, Enode's aliases).  lang/quantities.py asks it about each
name a rule set uses; `check`, `sim`, `run` and the deploy load rules with it.

Without a config every kind stands under its own name (``envoy``, ``evcc`` …),
the names the shipped rules and the built-in scenarios use.
"""

from ..devices import kinds
from ..devices.adapter import fits
from ..errors import ValueRefused
from ..text import close_to


def _example(part, pattern_part, choices):
    # A pattern's part filled in for "did you mean": the name's own part where it
    # fits the placeholder, else an example of it.
    if pattern_part[:1] != "<" and not pattern_part.endswith("<n>"):
        return pattern_part
    if part is not None and fits(pattern_part, [part], choices):
        return part
    if pattern_part.endswith("<n>"):
        return pattern_part[:-3] + "1"
    for name, words in choices:
        if "<%s>" % name == pattern_part:
            return close_to(part or "", words) or words[0]
    return part or "name"


def _instances(parts, patterns, choices):
    """The patterns of the same length as ``parts``, filled in with them: what
    the name might have meant."""
    out = []
    for pattern in patterns:
        wanted = pattern.split(".")
        if wanted[-1] == "*" or abs(len(wanted) - len(parts)) > 1:
            continue
        filled = []
        for k in range(len(wanted)):
            filled.append(_example(parts[k] if k < len(parts) else None, wanted[k], choices))
        out.append(".".join(filled))
    return out


class Catalog:
    """The names a site's devices offer.  ``devices`` is the config's {name: checked
    entry}; None stands every kind under its own name, with no instances known."""

    def __init__(self, devices=None):
        self.configured = devices is not None
        if devices is None:
            devices = {}
            for kind in kinds.names():
                devices[kind] = {"type": kind}
        self.devices = devices
        self.warned = []  # device names not in the site, warned about once

    def _device(self, name):
        """(adapter class, config entry, parts after the device's name) or (None, message, warning)."""
        parts = name.split(".")
        spec = self.devices.get(parts[0])
        if spec is None:
            guess = close_to(parts[0], list(self.devices))
            if guess:
                return None, "no device '%s'; did you mean '%s'?" % (parts[0], guess), False
            if not self.configured:
                # A device of the user's own naming: only its config can say what it is.
                first = parts[0] not in self.warned
                self.warned.append(parts[0])
                if first:
                    return (
                        None,
                        "no device '%s' among the default names (%s); check --config site.json checks the names of your own devices"
                        % (parts[0], ", ".join(kinds.names())),
                        True,
                    )
                return None, None, True
            return None, "the site has no device '%s' (devices: %s)" % (parts[0], ", ".join(sorted(self.devices))), False
        return kinds.adapter_class(spec["type"], "rest", parts[0]), spec, parts[1:]

    def signal(self, name):
        """(unit, problem, warning) of the signal ``name``: its unit from the table
        (None when unknown), and a problem to report (None when it is known)."""
        cls, spec, parts = self._device(name)
        if cls is None:
            return None, spec, parts
        device = name.split(".")[0]
        for pattern, unit in cls.SIGNALS:
            if fits(pattern, parts, cls.CHOICES):
                problem = cls.instance_problem(parts, spec, True) if self.configured else None
                if problem:
                    return None, "%s: %s" % (name, problem), False
                if unit == "any" and pattern[-1:] == "*":
                    wrong = self._not_a_forecast(cls, name, parts)
                    if wrong:
                        return None, wrong, False
                    # A name of the device's own (an EMS-ESP entity, an evcc topic): fine if it has it.
                    guess = self._guess(device, parts, cls.SIGNALS, cls.CHOICES)
                    hint = ("did you mean %s?" % guess) if guess else "`read %s` shows whether yours offers it" % device
                    said = "%s is not among the names docs/signals.md lists for %s; %s" % (name, cls.title, hint)
                    return None, said, True
                return unit, None, False
        guess = self._guess(device, parts, cls.SIGNALS, cls.CHOICES)
        hint = ("; did you mean %s?" % guess) if guess else " (docs/signals.md lists them; `read %s` shows what yours offers)" % device
        return None, "%s is not a signal the %s offers%s" % (name, cls.title, hint), False

    def _not_a_forecast(self, cls, name, parts):
        """A problem for a name under a forecast's first part that is none of them
        (`evcc.tariff.price`), naming those there are; else None."""
        for pattern in cls.FORECASTS:
            wanted = pattern.split(".")
            if len(wanted) == len(parts) and wanted[0] == parts[0] and not cls.is_forecast(name):
                for placeholder, words in cls.CHOICES:
                    if wanted[1] == "<%s>" % placeholder:
                        guess = close_to(parts[1], words)
                        hint = ("; did you mean %s.%s.%s?" % (name.split(".")[0], parts[0], guess)) if guess else ""
                        return "%s: %s has no such %s (it has %s)%s" % (name, cls.title, parts[0], ", ".join(words), hint)
        return None

    def is_forecast(self, name):
        """True if the signal ``name`` is a forecast (its device's FORECASTS), False if
        not, None when its device is unknown."""
        cls = self._device(name)[0]
        return None if cls is None else cls.is_forecast(name)

    def forecast_example(self, name):
        """A forecast to name in a message about ``name``: its device's first, else evcc's grid price."""
        cls = self._device(name)[0]
        if cls is not None and cls.FORECASTS:
            parts = [_example(None, part, cls.CHOICES) for part in cls.FORECASTS[0].split(".")]
            return name.split(".")[0] + "." + ".".join(parts)
        return "evcc.tariff.grid"

    def target(self, name):
        """(adapter class, kind of value, unit, problem, warning) of the target ``name``."""
        cls, spec, parts = self._device(name)
        if cls is None:
            return None, None, None, spec, parts
        device = name.split(".")[0]
        found = cls.setting(parts)
        if found is None:
            if not cls.TARGETS:
                return None, None, None, "the %s is only read; it has nothing to set (%s)" % (cls.title, name), False
            guess = self._guess(device, parts, [t[0] for t in cls.TARGETS], cls.CHOICES)
            hint = ("; did you mean %s?" % guess) if guess else " (docs/signals.md lists them)"
            return None, None, None, "%s is %s%s" % (name, cls.NOT_WRITABLE.split(" (")[0], hint), False
        problem = cls.instance_problem(parts, spec, False) if self.configured else None
        if problem:
            return None, None, None, "%s: %s" % (name, problem), False
        kind = found[1]
        return cls, kind, cls.value_of(kind)[0], None, False

    def refused(self, cls, name, kind, value):
        """Why the device would refuse ``value`` for the target ``name`` (the real
        write's own check), or None."""
        try:
            cls.check_value(name, kind, value)
        except ValueRefused as e:
            return str(e)
        return None

    def _guess(self, device, parts, patterns, choices):
        # The closest listed name, whole: "envoy.net_consumption".
        if patterns and not isinstance(patterns[0], str):
            patterns = [p[0] for p in patterns]
        names = _instances(parts, patterns, choices)
        guess = close_to(".".join(parts), names)
        if guess is None and parts:
            # A last part that holds a listed one: charge_mode -> mode.
            head, last = ".".join(parts[:-1]), parts[-1].lower()
            for name in names:
                tail = name.rsplit(".", 1)
                if len(tail) == 2 and tail[0] == head and len(tail[1]) > 2 and (tail[1].lower() in last or last in tail[1].lower()):
                    guess = name
                    break
        return device + "." + guess if guess else None
