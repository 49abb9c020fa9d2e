"""The commands that meet devices: `run` (the real thing), `read` (one device
once) and `demo` (the built-in site on loopback)."""

from .. import port
from ..devices import kinds
from ..errors import ConfigError, RuleError, SunshiftError
from ..forecast import Forecast
from ..site import config
from ..site.runner import Runner
from .options import UsageError, parse_options, print_problems, sample_step, write


def _demo_module():
    """tools/demo.py: main.py of a checkout puts tools/ on the path (the demo
    starts the simulators there, which an installed package does not have)."""
    try:
        import demo
    except ImportError:
        raise UsageError("demo needs the simulators in tools/ of a clone of the sunshift repository: run python3 main.py demo there")
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
    return demo.main(name, rules, speed, sample_step(options), int(base), mqtt, plot, out, err, bool(options.get("--verbose")))


def _log(options, journal=False):
    level = port.DEBUG if options.get("--verbose") else port.INFO
    return port.Log(level, journal=journal)


def _pid():
    import os

    return os.getpid() if hasattr(os, "getpid") else None


def cmd_run(args, out, err):
    """`run`: the real thing, against the devices in the site config, until
    SIGTERM or Ctrl-C; SIGHUP or an edit of the rule files reloads the rules."""
    from ..site.state import StateFile
    from .service import Control, RuleWatch, under_journal

    spec = {"--config": "one", "--secrets": "one", "--dry-run": "flag", "--rules": "many", "--verbose": "flag", "-v": "--verbose"}
    options, rest = parse_options(args, spec)
    if rest:
        raise UsageError("unexpected argument %s" % rest[0])
    log = _log(options, under_journal())
    try:
        site = config.load(options.get("--config", "site.json"), options.get("--secrets"))
        if "--rules" in options:
            site.rules = options["--rules"]
        dry_run = bool(options.get("--dry-run"))
        state = StateFile(site.state, log)
        state.extra = {"pid": _pid()}
        runner = Runner(site, log, dry_run=dry_run, state=state, polls=port.backend("polls").Polls())
    except RuleError as e:
        print_problems(e.problems, err)
        return 1
    except SunshiftError as e:
        write(err, "sunshift run: %s" % e)
        return 1
    control = Control()
    watch = RuleWatch(site.rules, runner, log, control)
    try:
        saved = "the state is read, not saved (dry run)" if dry_run else "state in %s" % site.state
        runner.log.info(
            "site",
            "running %d rules on %d devices%s; %s"
            % (len(runner.rules.rules), len(runner.adapters), " (dry run: nothing is written)" if dry_run else "", saved),
        )
        zone = site.timezone
        runner.run(port.make_clock(), lambda: port.time_of_day(zone), control.stopped, before=watch.check)
    except KeyboardInterrupt:
        control.stop_by = control.stop_by or "Ctrl-C"
    finally:
        runner.close()
    saved = not dry_run and runner.now is not None and state.trouble is None
    log.info("site", "stopped by %s%s" % (control.stop_by or "its end", "; state saved in %s" % site.state if saved else ""))
    return 0


def cmd_read(args, out, err):
    """`read DEVICE`: poll one device once and print every signal it offers as JSON."""
    spec = {"--config": "one", "--secrets": "one", "--url": "one", "--token": "one", "--token-file": "one", "--insecure": "flag", "--listen": "one"}
    options, rest = parse_options(args, spec)
    if len(rest) != 1:
        raise UsageError("read needs one device name, like: read envoy --url http://192.168.1.20")
    name = rest[0]
    try:
        if "--url" in options:
            if name not in kinds.names():
                raise UsageError("with --url the device is one of %s" % ", ".join(kinds.names()))
            spec = {
                "type": name,
                "url": options["--url"],
                "token": _token(options, options["--url"]),
                "insecure_tls": bool(options.get("--insecure")),
                "timeout": 10,
            }
            mqtt_spec = None
        else:
            site = config.load(options.get("--config", "site.json"), options.get("--secrets"))
            if name not in site.devices:
                raise ConfigError("%s has no device %r (devices: %s)" % (site.path, name, ", ".join(sorted(site.devices))))
            spec = site.devices[name]
            mqtt_spec = site.mqtt
        mqtt = None
        if spec.get("transport") == "mqtt":
            from ..site.mqtt import mqtt_client

            # Its own client id: with the running engine's, the broker would drop the engine.
            mqtt_spec = dict(mqtt_spec or {})
            mqtt_spec["client_id"] = "%s-read-%s" % (mqtt_spec.get("client_id", "sunshift"), _pid())
            mqtt = mqtt_client(mqtt_spec, None)
        adapter = kinds.build(name, spec, mqtt)
        writable = ()
        if mqtt is None and spec["type"] == "emsesp":
            from .emsesp_read import survey  # the gateway's generic commands: what it has, what is writable

            signals, writable = survey(adapter, lambda text: write(err, "sunshift read %s: %s" % (name, text)))
        elif mqtt is None:
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
        write(err, "sunshift read %s: %s" % (name, e))
        return 1
    write(out, _json_object(signals))
    if writable:
        write(err, "%s: writable (EMS-ESP's entities):\n%s" % (name, "\n".join("  %s  %s" % entry for entry in writable)))
    return 0


# Where `read --url` finds a token when there is no secrets file.
TOKEN_VARIABLE = "SUNSHIFT_TOKEN"


def _token(options, url):
    """The token for `read --url`: from --token-file, from $SUNSHIFT_TOKEN, or
    asked for at the terminal; never from the command line, where every user
    of the computer sees it (`ps`).  None without one (a device that needs it
    then answers 401, which `read` says)."""
    import os

    if "--token" in options:
        raise UsageError(
            "--token would show the token to every user of this computer (ps lists command lines);"
            " give it in a file with --token-file FILE, in the environment as %s, or leave it out to be asked for it" % TOKEN_VARIABLE
        )
    if "--token-file" in options:
        path = options["--token-file"]
        try:
            token = port.read_text(path).strip()
        except (OSError, UnicodeError) as e:
            raise UsageError("--token-file %s: cannot read it (%s)" % (path, e.__class__.__name__))
        if not token:
            raise UsageError("--token-file %s: the file is empty" % path)
        return token
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if token:
        return token
    import sys

    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        return getpass.getpass("token for %s (Enter for none): " % url).strip() or None
    return None


def _json_object(values):
    """A JSON object of ``values``, keys sorted, one per line (the same on both
    interpreters); a forecast as its slots (forecast_json)."""
    lines = ["  %s: %s" % (port.json_dumps(key), forecast_json(values[key])) for key in sorted(values)]
    return "{\n" + ",\n".join(lines) + "\n}" if lines else "{}"


def forecast_json(value):
    """A value as JSON; a forecast (Unix seconds, as a device gives it) as
    {"slots": n, "from": ..., "to": ..., "lowest": ..., "highest": ...}, times in UTC."""
    if not isinstance(value, Forecast):
        return port.json_dumps(value)
    if not len(value):
        return '{"slots": 0}'
    low, high = min(value.values), max(value.values)
    return '{"slots": %d, "from": %s, "to": %s, "lowest": %s, "highest": %s}' % (
        len(value),
        port.json_dumps(port.format_utc(value.first()) + " UTC"),
        port.json_dumps(port.format_utc(value.last()) + " UTC"),
        port.json_dumps(round(low, 4)),
        port.json_dumps(round(high, 4)),
    )


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
