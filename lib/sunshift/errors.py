"""The one exception hierarchy of sunshift."""


class SunshiftError(Exception):
    """Base of every error sunshift raises on purpose."""


class Problem:
    """One finding in a user's file: where it is, what it says, and how bad it is."""

    def __init__(self, path, line, col, message, warning=False):
        self.path = path
        self.line = line
        self.col = col
        self.message = message
        self.warning = warning

    def __str__(self):
        kind = "warning: " if self.warning else ""
        return "%s:%d:%d: %s%s" % (self.path, self.line, self.col, kind, self.message)


class RuleError(SunshiftError):
    """A rule set that cannot be loaded; ``problems`` lists every error found."""

    def __init__(self, problems):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class EvalError(SunshiftError):
    """An expression that cannot be computed from the values it got (a text where a
    number belongs, a division by zero)."""


class TransportError(SunshiftError):
    """A network call that failed: ``kind`` is one of timeout, refused, reset,
    tls, dns, closed, protocol, network; the message says what happened."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


class DeviceError(SunshiftError):
    """A device that did not answer as it should, named with the endpoint asked.

    ``kind`` groups episodes for logging (a timeout that becomes a 401 is a new
    episode; the same timeout on every poll is not).  ``retry_after`` is how
    long a refused write should wait before the engine repeats it (None: the
    dispatcher's default), when the device says or its refusal needs a person.
    """

    def __init__(self, device, endpoint, message, kind="error", retry_after=None):
        super().__init__("%s %s: %s" % (device, endpoint, message))
        self.device = device
        self.endpoint = endpoint
        self.message = message
        self.kind = kind
        self.retry_after = retry_after


class ConfigError(SunshiftError):
    """A config or secrets file that cannot be used; the message names file and key."""


class ModuleMissing(SunshiftError):
    """A module the site needs is not on the board (it was deployed for another
    config); the message says to deploy again."""


class ValueRefused(SunshiftError):
    """A value a target does not take (checked before anything is sent)."""
