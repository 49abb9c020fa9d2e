"""The command line: ``python3 main.py <command>`` or the installed ``sunshift``.

Hand-written option parsing: argparse does not exist on the boards, and this
module must import everywhere the core does.
"""

import sys

from . import VERSION, engine, lexer, parser, port, sim, units
from .errors import RuleError, SunshiftError, TraceError
from .trace import Trace

USAGE = """usage: sunshift <command> [options]

commands:
  check PATH...       check rule files (a folder means every *.rules in it);
                      prints path:line:col: message per problem, exit 1 on errors
  sim                 replay rules against a trace on virtual time, no devices:
      --rules PATH...           rule files or folders (required)
      --trace FILE.csv          header t,<signal>,...; t in seconds (required)
      --start YYYY-MM-DDTHH:MM  wall-clock time of t=0 (default: midnight)
      --out FILE.jsonl          write the changes there instead of stdout
      --stale-after DURATION    how long a sample stays fresh (default 2m)
      --verbose, -v             print the decision log to stderr
  run                 the real thing: poll the devices, run the rules, write
      --config FILE             the site config (default site.json)
      --secrets FILE            tokens and passwords (default: secrets.json beside it)
      --rules PATH...           rule files or folders (default: the config's "rules")
      --dry-run                 log the writes it would make, write nothing
      --verbose, -v             log more
  read DEVICE         poll one device once; print every signal it offers as JSON
      --config FILE             take the device from the site config, or:
      --url URL [--token T] [--insecure]   a quick look without a config
  version             print the version
"""


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


def _write(stream, line):
    stream.write(line + "\n")


def _print_problems(problems, stream):
    for p in problems:
        _write(stream, str(p))


def cmd_check(args, out, err):
    """`check PATH...`: 0 when every file is valid, 1 with path:line:col: lines otherwise."""
    _, paths = parse_options(args, {})
    if not paths:
        raise UsageError("check needs at least one rule file or folder")
    try:
        rs = parser.load(paths)
    except RuleError as e:
        _print_problems(e.problems, out)
        errors = len([p for p in e.problems if not p.warning])
        _write(err, "%d error%s" % (errors, "" if errors == 1 else "s"))
        return 1
    _print_problems(rs.warnings, out)
    files = len(rs.files)
    note = ""
    if rs.warnings:
        note = " (%d warning%s)" % (len(rs.warnings), "" if len(rs.warnings) == 1 else "s")
    _write(
        out,
        "ok: %d rule%s, %d let%s in %d file%s%s"
        % (len(rs.rules), "" if len(rs.rules) == 1 else "s", len(rs.lets), "" if len(rs.lets) == 1 else "s", files, "" if files == 1 else "s", note),
    )
    return 0


def cmd_sim(args, out, err):
    """`sim`: replay a trace; one JSON line per target change."""
    spec = {"--rules": "many", "--trace": "one", "--start": "one", "--out": "one", "--stale-after": "one", "--verbose": "flag", "-v": "--verbose"}
    options, rest = parse_options(args, spec)
    if rest:
        raise UsageError("unexpected argument %s" % rest[0])
    if "--rules" not in options or "--trace" not in options:
        raise UsageError("sim needs --rules PATH... and --trace FILE.csv")
    try:
        start = sim.parse_start(options.get("--start", "2000-01-01"))
    except ValueError as e:
        raise UsageError(str(e))
    max_age = engine.DEFAULT_MAX_AGE
    if "--stale-after" in options:
        max_age = lexer.read_duration(options["--stale-after"])
        if max_age is None or max_age <= 0:
            raise UsageError("--stale-after needs a duration like 90s or 5m")
    try:
        rs = parser.load(options["--rules"])
    except RuleError as e:
        _print_problems(e.problems, err)
        return 1
    _print_problems(rs.warnings, err)
    try:
        trace = Trace(options["--trace"])
        rows = trace.check()
    except TraceError as e:
        _write(err, str(e))
        return 1
    for name in rs.signals():
        if name not in trace.columns:
            _write(err, "%s: warning: no column for %s, which the rules read; rules that need it stay in their safe branch" % (trace.path, name))
    sink = out
    target = options.get("--out")
    if target:
        sink = open(target, "w")
    verbose = options.get("--verbose")

    def on_event(event):
        t, source, text = event
        _write(err, "t=%s %s %s: %s" % (units.format_number(t, 1), units.format_clock(run.tod(t)), source, text))

    def on_change(change):
        _write(sink, sim.change_json(change))

    began = port.ticks_ms()
    try:
        run = sim.Simulation(rs, start, max_age, on_change=on_change, on_event=on_event if verbose else None)
        run.run(trace)
    except TraceError as e:
        _write(err, str(e))
        return 1
    finally:
        if sink is not out:
            sink.close()
    took = port.ticks_diff(port.ticks_ms(), began) / 1000
    span = run.now if run.now is not None else 0
    _write(
        err,
        "simulated %s (%d rows, %d ticks) in %.2f s: %d change%s"
        % (units.format_duration(span), rows, run.ticks, took, run.changes, "" if run.changes == 1 else "s"),
    )
    return 0


def _log(options):
    level = port.DEBUG if options.get("--verbose") else port.INFO
    return port.Log(level)


def cmd_run(args, out, err):
    """`run`: the real thing, against the devices in the site config."""
    from . import app, config

    spec = {"--config": "one", "--secrets": "one", "--dry-run": "flag", "--rules": "many", "--verbose": "flag", "-v": "--verbose"}
    options, rest = parse_options(args, spec)
    if rest:
        raise UsageError("unexpected argument %s" % rest[0])
    log = _log(options)
    try:
        site = config.load(options.get("--config", "site.json"), options.get("--secrets"))
        if "--rules" in options:
            site.rules = options["--rules"]
        runner = app.Runner(site, log, dry_run=bool(options.get("--dry-run")))
    except RuleError as e:
        _print_problems(e.problems, err)
        return 1
    except SunshiftError as e:
        _write(err, "sunshift run: %s" % e)
        return 1
    try:
        app.run_forever(runner)
    except KeyboardInterrupt:
        log.info("site", "stopped")
    finally:
        runner.close()
    return 0


def cmd_read(args, out, err):
    """`read DEVICE`: poll one device once and print every signal it offers as JSON."""
    from . import app, config, feed

    spec = {"--config": "one", "--secrets": "one", "--url": "one", "--token": "one", "--insecure": "flag", "--listen": "one"}
    options, rest = parse_options(args, spec)
    if len(rest) != 1:
        raise UsageError("read needs one device name, like: read envoy --url http://192.168.1.20")
    name = rest[0]
    try:
        if "--url" in options:
            if name not in config.DEVICE_TYPES:
                raise UsageError("with --url the device is one of %s" % ", ".join(config.DEVICE_TYPES))
            spec = {"type": name, "url": options["--url"], "token": options.get("--token"), "insecure_tls": bool(options.get("--insecure")), "timeout": 10}
            mqtt_spec = None
        else:
            site = config.load(options.get("--config", "site.json"), options.get("--secrets"))
            if name not in site.devices:
                raise config.ConfigError("%s has no device %r (devices: %s)" % (site.path, name, ", ".join(sorted(site.devices))))
            spec = site.devices[name]
            mqtt_spec = site.mqtt
        mqtt = None
        if spec.get("transport") == "mqtt":
            mqtt = app._mqtt_client(mqtt_spec, None)
        adapter = app.build_adapter(name, spec, mqtt)
        if mqtt is None:
            signals = adapter.poll()
        else:
            signals = _listen(adapter, mqtt, float(options.get("--listen", 5)))
            if not signals:
                raise SunshiftError(
                    "%s: nothing arrived over MQTT within %s s (%s)"
                    % (name, options.get("--listen", 5), mqtt.last_error or "connected, but the device published nothing")
                )
            mqtt.close()
        adapter.close()
    except (SunshiftError, ValueError) as e:
        _write(err, "sunshift read %s: %s" % (name, e))
        return 1
    _write(out, feed.json_object(signals))
    return 0


def _listen(adapter, mqtt, seconds):
    """Collect an MQTT device's values for up to ``seconds`` (stops 1 s after they stop coming)."""
    start = port.ticks_ms()
    last = None
    values = {}
    while port.ticks_diff(port.ticks_ms(), start) < seconds * 1000:
        got = mqtt.poll()
        for topic, payload in got:
            adapter.handle(topic, payload)
        if got:
            last = port.ticks_ms()
            values = dict(adapter.feed.values)
        elif last is not None and port.ticks_diff(port.ticks_ms(), last) > 1000:
            break
        port.sleep_ms(20)
    return values


COMMANDS = {"check": cmd_check, "sim": cmd_sim, "run": cmd_run, "read": cmd_read}


def main(argv, out=None, err=None):
    """Run the command in ``argv`` (without the program name); returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not argv or argv[0] in ("-h", "--help", "help"):
        out.write(USAGE)
        return 0 if argv else 2
    if argv[0] in ("version", "--version"):
        _write(out, "sunshift " + VERSION)
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        _write(err, "sunshift: unknown command '%s'\n" % argv[0] + USAGE)
        return 2
    try:
        return command(argv[1:], out, err)
    except UsageError as e:
        _write(err, "sunshift %s: %s\n" % (argv[0], e) + USAGE)
        return 2


def run():
    """Entry point of the installed ``sunshift`` script."""
    sys.exit(main(sys.argv[1:]))
