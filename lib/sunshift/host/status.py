"""`status`: the running engine's view, read from its state file.

`run` saves its state as decisions change it (site/state), so the file is
never more than a few seconds behind the engine: rules with their state,
how long they have been in it and how far their `for` timers have run;
targets with the value written, when it last changed and what is left of
`hold`; each device's trouble.  Ages are counted on to now (the state does
not change between saves).  The rule files give the timers' lengths.
"""

from ..core import snapshot
from ..core.engine import Engine
from ..errors import RuleError, SunshiftError
from ..lang import nodes, ruleset
from ..site import config
from ..site.catalog import Catalog
from ..site.state import StateFile, wall_time
from ..units import format_duration, format_value
from .options import parse_options, write


def _timer_lengths(node, out):
    """{slot: seconds} of every `for` in ``node``."""
    if node is None:
        return out
    if node[0] == nodes.FOR:
        out[node[3]] = node[2]
    for child in nodes.children(node):
        _timer_lengths(child, out)
    return out


def _running(pid):
    """'running (pid N)', 'not running (last pid N)', or '' without a pid."""
    if not isinstance(pid, int):
        return ""
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "not running (its last process, %d, is gone)" % pid
    except OSError:
        pass  # another user's process: it exists
    return "running (pid %d)" % pid


def cmd_status(args, out, err):
    """`status`: rules, targets and devices of the engine that runs (or ran) this config."""
    spec = {"--config": "one", "--secrets": "one", "--state": "one"}
    options, rest = parse_options(args, spec)
    if rest:
        write(err, "sunshift status: unexpected argument %s" % rest[0])
        return 2
    try:
        site = config.load(options.get("--config", "site.json"), options.get("--secrets"))
    except SunshiftError as e:
        write(err, "sunshift status: %s" % e)
        return 1
    path = options.get("--state", site.state)
    problems = []

    class Said:
        def info(self, source, text):
            problems.append(text)

        warn = info

    state = StateFile(path, Said())
    data = state.read()
    if data is None:
        write(err, "sunshift status: %s" % problems[0] if problems else "sunshift status: no state in %s" % path)
        write(err, '(the engine has not run with this config yet, or its config names another "state")')
        return 1
    now = wall_time()
    behind = snapshot.downtime(data, now) or 0
    engine = None
    try:
        engine = Engine(ruleset.load(site.rules, Catalog(site.devices)), site.stale_after, site.max_ages())
        keys = snapshot.keys(engine)[0]
    except (RuleError, SunshiftError):
        keys = None
    head = _running(data.get("pid"))
    write(out, "engine: %s%sstate saved %s ago in %s" % (head, "; " if head else "", format_duration(round(behind)), path))
    write(out, "rules:")
    known = {}
    if engine is not None:
        for i, rule in enumerate(engine.rules):
            known[rule.name] = (rule, keys[i])
    for name, key, state_name, since, timers, reason in data["rules"]:
        line = "  %-16s %-12s for %-8s %s" % (name, state_name, format_duration(round(since + behind)), reason)
        rule, rule_key = known.get(name, (None, None))
        if rule is not None and rule_key != key:
            line += "  (edited since: the engine reloads it)"
        elif rule is not None and state_name in ("pending-on", "pending-off"):
            # The timers that hold it in its pending state: `when`'s before it turns on, `until`'s before it turns off.
            lengths = _timer_lengths(rule.when if state_name == "pending-on" else rule.until, {})
            for slot, age in enumerate(timers):
                if age is not None and slot in lengths:
                    ran = age + behind
                    left = max(0, lengths[slot] - ran)
                    line += "; timer %s of %s (%s left)" % (format_duration(round(ran)), format_duration(lengths[slot]), format_duration(round(left)))
        write(out, line)
    write(out, "targets:")
    for entry in data["targets"]:
        target = entry["target"]
        value = format_value(entry["written"]) if "written" in entry else "(not written: %s)" % ("waits to retry" if "retry" in entry else "unknown")
        line = "  %-32s %-8s" % (target, value)
        if "changed" in entry:
            age = entry["changed"] + behind
            line += " changed %s ago" % format_duration(round(age))
            hold = engine.hold.get(target) if engine is not None else None
            if hold:
                left = hold - age
                line += "; hold %s: %s" % (format_duration(hold), "%s left" % format_duration(round(left)) if left > 0 else "over")
        if "retry" in entry:
            left = entry["retry"] - behind
            line += "; a failed write is tried again %s" % ("in %s" % format_duration(round(left)) if left > 0 else "now")
        write(out, line)
    devices = data.get("devices")
    if isinstance(devices, dict):
        write(out, "devices:")
        for name in sorted(devices):
            trouble = devices[name]
            write(out, "  %-16s %s" % (name, "ok" if trouble is None else "%s (its signals go stale)" % trouble))
    return 0
