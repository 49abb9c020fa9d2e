"""What the commands share: option parsing, usage errors, and writing lines.

Hand-written option parsing: argparse does not exist on the boards, and the
command line must import everywhere the core does.
"""

from ..core import engine
from ..text import parse_duration


class UsageError(Exception):
    """Wrong command-line arguments; the message says what is wrong."""


def parse_options(args, spec):
    """Split ``args`` by ``spec`` ({option: "flag" | "one" | "many"}) into
    (options, positionals); aliases in spec map to the option they stand for."""
    options = {}
    positionals = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and arg != "-":
            name = arg
            value = None
            if "=" in arg:
                cut = arg.find("=")
                name, value = arg[:cut], arg[cut + 1 :]
            kind = spec.get(name)
            while kind is not None and kind not in ("flag", "one", "many"):
                name, kind = kind, spec.get(kind)
            if kind is None:
                raise UsageError("unknown option %s" % arg)
            if kind == "flag":
                options[name] = True
            elif kind == "one":
                if value is None:
                    i += 1
                    if i >= len(args):
                        raise UsageError("%s needs a value" % name)
                    value = args[i]
                options[name] = value
            else:
                values = options.setdefault(name, [])
                if value is not None:
                    values.append(value)
                while i + 1 < len(args) and not args[i + 1].startswith("-"):
                    i += 1
                    values.append(args[i])
                if not values:
                    raise UsageError("%s needs at least one value" % name)
        else:
            positionals.append(arg)
        i += 1
    return options, positionals


def write(stream, line):
    stream.write(line + "\n")


def print_problems(problems, stream):
    for p in problems:
        write(stream, str(p))


def stale_limit(options):
    if "--stale-after" not in options:
        return engine.DEFAULT_MAX_AGE
    max_age = parse_duration(options["--stale-after"])
    if max_age is None or max_age <= 0:
        raise UsageError("--stale-after needs a duration like 90s or 5m")
    return max_age


def sample_step(options):
    text = options.get("--step", "10s")
    step = parse_duration(text)
    if step is None and text.isdigit():
        step = int(text)
    if step is None or not 1 <= step <= 600:
        raise UsageError("--step needs a duration from 1s to 10m, like 10s")
    return step
