"""The command line: ``python3 main.py <command>`` or the installed ``sunshift``.

Hand-written option parsing: argparse does not exist on the boards, and this
module must import everywhere the core does.
"""

import sys

from . import VERSION, engine, lexer, parser, port, sim, units
from .errors import RuleError, SunshiftError
from .trace import Trace, TraceError

USAGE = """usage: sunshift <command> [options]

commands:
  check PATH...       check rule files (a folder means every *.rules in it);
                      prints path:line:col: message per problem, exit 1 on errors
  sim                 replay rules on virtual time, no devices; one JSON line per
                      decision, the day's figures on stderr:
      --rules PATH...           rule files or folders (required)
      --trace FILE.csv          a recorded day: header t,<signal>,...; t in seconds
      --scenario NAME           or a built-in day whose loads answer the rules
                                (sunny, broken_clouds, winter)
      --step DURATION           a scenario's sample interval (default 10s)
      --start YYYY-MM-DDTHH:MM  wall-clock time of t=0 (default: midnight)
      --out FILE.jsonl          write the changes there (and the figures to
                                FILE.summary.json) instead of stdout
      --summary FILE.json       write the figures there
      --plot FILE.svg           draw the picture of the day (opens in a browser)
      --stale-after DURATION    how long a sample stays fresh (default 2m)
      --quiet, -q               no figures on stderr
      --verbose, -v             print the decision log to stderr
  scenario NAME       write a built-in day as a trace CSV (--list: the days)
      --rules PATH...           let these rules drive the car and the hot water
      --step DURATION           sample interval (default 10s)
      --out FILE.csv            write there instead of stdout
  demo                the built-in site: simulators on loopback, a day in a minute
      --scenario NAME           sunny (default), broken_clouds or winter
      --speed N | max           times faster than real time (default 1440)
      --rules PATH...           default: the rules/ folder of this checkout
      --plot FILE.svg           where the picture goes (default sunshift-demo-NAME.svg)
      --no-plot                 no picture
      --port N                  Envoy on N, evcc N+1, EMS-ESP N+2, Mosquitto N+3
                                (default: any free ports)
      --no-mqtt, --mqtt         HTTP only / insist on Mosquitto (default: MQTT if there)
      --step DURATION           the loop's step in simulated time (default 10s)
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


SIM_SPEC = {
    "--rules": "many",
    "--trace": "one",
    "--scenario": "one",
    "--step": "one",
    "--start": "one",
    "--out": "one",
    "--summary": "one",
    "--plot": "one",
    "--stale-after": "one",
    "--quiet": "flag",
    "-q": "--quiet",
    "--verbose": "flag",
    "-v": "--verbose",
}


def _stale_after(options):
    if "--stale-after" not in options:
        return engine.DEFAULT_MAX_AGE
    max_age = lexer.read_duration(options["--stale-after"])
    if max_age is None or max_age <= 0:
        raise UsageError("--stale-after needs a duration like 90s or 5m")
    return max_age


def _step(options):
    text = options.get("--step", "10s")
    step = lexer.read_duration(text)
    if step is None and text.isdigit():
        step = int(text)
    if step is None or not 1 <= step <= 600:
        raise UsageError("--step needs a duration from 1s to 10m, like 10s")
    return step


def _trace_warnings(rs, trace, err):
    """Warn about signals the rules read but the trace lacks, and columns that
    look like a misspelt one of them (file:line:col)."""
    read = rs.signals()
    for name in read:
        if name not in trace.columns:
            guess = parser.close_to(name, trace.columns)
            hint = " (the column '%s' is close: a typo?)" % guess if guess else ""
            _write(err, "%s: warning: no column for %s, which the rules read; rules that need it stay in their safe branch%s" % (trace.path, name, hint))
    for k, name in enumerate(trace.columns):
        if name in read:
            continue
        guess = parser.close_to(name, [r for r in read if r not in trace.columns])
        if guess:
            _write(err, "%s:%d:%d: warning: no rule reads '%s'; did you mean %s?" % (trace.path, trace.header_line, trace.column_cols[k], name, guess))


def _summary_path(options):
    if "--summary" in options:
        return options["--summary"]
    out = options.get("--out")
    if not out:
        return None
    if out.endswith(".jsonl"):
        out = out[:-6]
    return out + ".summary.json"


def cmd_sim(args, out, err):
    """`sim`: replay a trace or a built-in scenario; one JSON line per target change."""
    from . import runs, scenarios, summary

    options, rest = parse_options(args, SIM_SPEC)
    if rest:
        raise UsageError("unexpected argument %s" % rest[0])
    if "--rules" not in options or ("--trace" in options) == ("--scenario" in options):
        raise UsageError("sim needs --rules PATH... and either --trace FILE.csv or --scenario NAME")
    try:
        start = sim.parse_start(options.get("--start", "2000-01-01"))
    except ValueError as e:
        raise UsageError(str(e))
    max_age = _stale_after(options)
    scenario = None
    if "--scenario" in options:
        try:
            scenario = scenarios.get(options["--scenario"])
        except ValueError as e:
            raise UsageError(str(e))
        step = _step(options)
    try:
        rs = parser.load(options["--rules"])
    except RuleError as e:
        _print_problems(e.problems, err)
        return 1
    _print_problems(rs.warnings, err)
    trace = None
    if scenario is None:
        try:
            trace = Trace(options["--trace"])
        except TraceError as e:
            _write(err, str(e))
            return 1
        _trace_warnings(rs, trace, err)
    verbose = options.get("--verbose")
    changes = []

    def on_event(event):
        t, source, text = event
        _write(err, "t=%s %s %s: %s" % (units.format_number(t, 1), units.format_clock(run.sim.tod(t)), source, text))

    began = port.ticks_ms()
    run = runs.Run(rs, start, max_age, record="--plot" in options, on_change=changes.append, on_event=on_event if verbose else None)
    try:
        if trace is not None:
            run.trace(trace)
        else:
            run.scenario(scenarios.Home(scenario), step)
    except TraceError as e:
        _write(err, str(e))  # nothing was written: a bad trace gives no half a result
        return 1
    took = port.ticks_diff(port.ticks_ms(), began) / 1000
    target = options.get("--out")
    sink = open(target, "w") if target else out
    try:
        for change in changes:
            _write(sink, sim.change_json(change))
    finally:
        if sink is not out:
            sink.close()
    figures = run.figures()
    where = _summary_path(options)
    if where:
        port.write_atomic(where, summary.to_json(figures) + "\n")
    if not options.get("--quiet"):
        _write(
            err,
            "simulated %s (%d %s, %d ticks) in %.2f s: %d change%s"
            % (
                units.format_duration(int(run.end)),
                run.rows,
                "rows" if trace is not None else "steps",
                run.sim.ticks,
                took,
                run.sim.changes,
                "" if run.sim.changes == 1 else "s",
            ),
        )
        for line in summary.lines(figures):
            _write(err, line)
    if "--plot" in options:
        from . import plot

        source = scenario.title if scenario else trace.path
        plot.write(run.day(), options["--plot"], "%s: %s" % (source, ", ".join(sorted(set(r.path for r in rs.rules)))))
        if not options.get("--quiet"):
            _write(err, "picture: %s" % options["--plot"])
    return 0


def cmd_scenario(args, out, err):
    """`scenario NAME`: write a built-in day as a trace CSV (see scenarios.py)."""
    from . import runs, scenarios

    options, rest = parse_options(args, {"--rules": "many", "--step": "one", "--out": "one", "--list": "flag"})
    if options.get("--list"):
        for name in sorted(scenarios.SCENARIOS):
            _write(out, "%-14s %s" % (name, scenarios.SCENARIOS[name].title))
        return 0
    if len(rest) != 1:
        raise UsageError("scenario needs one name (%s), or --list" % ", ".join(sorted(scenarios.SCENARIOS)))
    try:
        scenario = scenarios.get(rest[0])
    except ValueError as e:
        raise UsageError(str(e))
    step = _step(options)
    try:
        rs = parser.load(options["--rules"]) if "--rules" in options else parser.compile_sources([])
    except RuleError as e:
        _print_problems(e.problems, err)
        return 1
    target = options.get("--out")
    sink = open(target, "w") if target else out
    columns = scenarios.SIGNALS
    try:
        _write(sink, "# sunshift scenario %s (%s), one sample every %d s, t=0 at 00:00" % (scenario.name, scenario.title, step))
        if "--rules" in options:
            _write(sink, "# the loads answer the writes of: %s" % " ".join(options["--rules"]))
        else:
            _write(sink, "# no rules: the car and the hot water stay as the devices start (car off, 50 °C)")
        _write(sink, "t," + ",".join(columns))
        runs.Run(rs).scenario(scenarios.Home(scenario), step, on_row=lambda t, samples: _write(sink, runs.csv_row(t, samples, columns)))
    finally:
        if sink is not out:
            sink.close()
    return 0


def _demo_module():
    """tools/demo.py of the clone this package runs from."""
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    tools = here + "/../../tools"
    if port.file_size(tools + "/demo.py") is None:
        raise UsageError("demo needs the simulators in tools/ of a clone of the sunshift repository (not found beside %s)" % here)
    if tools not in sys.path:
        sys.path.insert(0, tools)
    import demo

    return demo


def cmd_demo(args, out, err):
    """`demo`: the built-in simulated site, a day in about a minute (tools/demo.py)."""
    from . import scenarios

    demo = _demo_module()

    spec = {
        "--scenario": "one",
        "--speed": "one",
        "--step": "one",
        "--rules": "many",
        "--plot": "one",
        "--no-plot": "flag",
        "--port": "one",
        "--mqtt": "flag",
        "--no-mqtt": "flag",
        "--verbose": "flag",
        "-v": "--verbose",
    }
    options, rest = parse_options(args, spec)
    if rest:
        raise UsageError("unexpected argument %s" % rest[0])
    speed = options.get("--speed", str(scenarios.DAY // demo.DAY_SECONDS))
    if speed == "max":
        speed = None
    else:
        try:
            speed = float(speed)
        except ValueError:
            speed = 0
        if not speed > 0:
            raise UsageError("--speed is how many times faster than real time (1440 plays a day in a minute), or max")
    base = options.get("--port", "0")
    if not base.isdigit() or not (int(base) == 0 or 1024 <= int(base) <= 65532):
        raise UsageError("--port is the first of four ports (1024-65532) for the Envoy, evcc, EMS-ESP and Mosquitto")
    mqtt = None
    if options.get("--mqtt"):
        mqtt = True
    if options.get("--no-mqtt"):
        mqtt = False
    name = options.get("--scenario", scenarios.DEFAULT)
    plot = None if options.get("--no-plot") else options.get("--plot", "sunshift-demo-%s.svg" % name)
    rules = options.get("--rules", [port.join(demo.ROOT, "rules")])
    return demo.main(name, rules, speed, _step(options), int(base), mqtt, plot, out, err, bool(options.get("--verbose")))


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
        run_forever(runner)
    except KeyboardInterrupt:
        log.info("site", "stopped")
    finally:
        runner.close()
    return 0


def cmd_read(args, out, err):
    """`read DEVICE`: poll one device once and print every signal it offers as JSON."""
    from . import app, config

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
            from .mqtt_site import mqtt_client

            mqtt = mqtt_client(mqtt_spec, None)
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
    _write(out, _json_object(signals))
    return 0


def _json_object(values):
    """A JSON object of ``values``, keys sorted, one per line (the same on both interpreters)."""
    lines = ["  %s: %s" % (port.json_dumps(key), port.json_dumps(values[key])) for key in sorted(values)]
    return "{\n" + ",\n".join(lines) + "\n}" if lines else "{}"


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


COMMANDS = {"check": cmd_check, "sim": cmd_sim, "scenario": cmd_scenario, "run": cmd_run, "read": cmd_read, "demo": cmd_demo}


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


def run_forever(runner, clock=None, stop=None):
    """Run the loop until ``stop()`` is true (or for ever)."""
    clock = clock or port.make_clock()
    zone = runner.site.timezone
    runner.log.info(
        "site",
        "running %d rules on %d devices%s"
        % (len(runner.rules.rules), len(runner.adapters), " (dry run: nothing is written)" if runner.dispatcher.dry_run else ""),
    )
    while stop is None or not stop():
        now_ms = port.ticks_ms()
        runner.step(clock(), port.time_of_day(zone), now_ms)
        port.sleep_ms(runner.next_wait_ms(port.ticks_ms()))
