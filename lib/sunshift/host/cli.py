"""The command line: ``python3 main.py <command>`` or the installed ``sunshift``.

The commands live beside it: cli_sim (sim, scenario), cli_site (run, read,
demo); options holds what they share.
"""

import sys

from .. import VERSION, port
from ..errors import RuleError, SunshiftError
from ..lang import ruleset
from .cli_sim import cmd_scenario, cmd_sim
from .cli_site import cmd_demo, cmd_read, cmd_run
from .options import UsageError, parse_options, print_problems, write
from .status import cmd_status

USAGE = """usage: sunshift <command> [options]

commands:
  check PATH...       check rule files (a folder means every *.rules in it);
                      prints path:line:col: message per problem, exit 1 on errors
      --config FILE             check a site config and its secrets too (file: key:
                                message per problem), and its rules unless PATHs
                                are given, against its devices
      --secrets FILE            the secrets (default: secrets.json beside the config)
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
  run                 the real thing: poll the devices, run the rules, write;
                      until SIGTERM or Ctrl-C; an edit of the rules or SIGHUP
                      reloads them; the state survives a restart (docs/service.md)
      --config FILE             the site config (default site.json)
      --secrets FILE            tokens and passwords (default: secrets.json beside it)
      --rules PATH...           rule files or folders (default: the config's "rules")
      --dry-run                 log the writes it would make, write nothing
      --verbose, -v             log more
  status              what the running engine knows: rules, timers, targets, hold,
                      devices (from its state file)
      --config FILE             the site config (default site.json)
      --state FILE              the state file (default: the config's "state")
  read DEVICE         poll one device once; print every signal it offers as JSON
      --config FILE             take the device from the site config, or:
      --url URL [--insecure]    a quick look without a config; a token from
                                --token-file FILE or $SUNSHIFT_TOKEN, else asked
                                for (never on the command line: ps shows it)
  version             print the version
"""


def cmd_check(args, out, err):
    """`check [--config FILE] PATH...`: 0 when every file is valid, 1 with
    path:line:col: (rules) or file: key: (config) lines otherwise."""
    options, paths = parse_options(args, {"--config": "one", "--secrets": "one"})
    site = None
    if "--config" in options:
        from ..site import config

        try:
            site = config.load(options["--config"], options.get("--secrets"))
        except SunshiftError as e:  # ConfigError; ModuleMissing on a bare install
            write(out, str(e))
            write(err, "1 error")
            return 1
        paths = paths or site.rules
    if not paths:
        raise UsageError("check needs at least one rule file or folder")
    from ..site.catalog import Catalog

    try:
        # The names, units and values against the site's devices, or the default names.
        rs = ruleset.load(paths, Catalog(site.devices if site is not None else None))
    except RuleError as e:
        if site is not None and paths is site.rules:
            for p in e.problems:
                if p.path in site.rules and p.message == "no such file or folder":
                    # The config's own paths count from its folder, wherever check runs.
                    p.message += ' (%s says "rules": %s, from its own folder)' % (site.path, port.json_dumps(site.rules_as_written))
        print_problems(e.problems, out)
        errors = len([p for p in e.problems if not p.warning])
        write(err, "%d error%s" % (errors, "" if errors == 1 else "s"))
        return 1
    print_problems(rs.warnings, out)
    if site is not None:
        write(out, "ok: %s: %d device%s (%s)" % (site.path, len(site.devices), "" if len(site.devices) == 1 else "s", ", ".join(sorted(site.devices))))
    files = len(rs.files)
    note = ""
    if rs.warnings:
        note = " (%d warning%s)" % (len(rs.warnings), "" if len(rs.warnings) == 1 else "s")
    write(
        out,
        "ok: %d rule%s, %d let%s in %d file%s%s"
        % (len(rs.rules), "" if len(rs.rules) == 1 else "s", len(rs.lets), "" if len(rs.lets) == 1 else "s", files, "" if files == 1 else "s", note),
    )
    return 0


COMMANDS = {"check": cmd_check, "sim": cmd_sim, "scenario": cmd_scenario, "run": cmd_run, "read": cmd_read, "demo": cmd_demo, "status": cmd_status}


def main(argv, out=None, err=None):
    """Run the command in ``argv`` (without the program name); returns the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not argv or argv[0] in ("-h", "--help", "help"):
        out.write(USAGE)
        return 0 if argv else 2
    if argv[0] in ("version", "--version"):
        write(out, "sunshift " + VERSION)
        return 0
    command = COMMANDS.get(argv[0])
    if command is None:
        write(err, "sunshift: unknown command '%s'\n" % argv[0] + USAGE)
        return 2
    try:
        return command(argv[1:], out, err)
    except UsageError as e:
        write(err, "sunshift %s: %s\n" % (argv[0], e) + USAGE)
        return 2


def run():
    """Entry point of the installed ``sunshift`` script."""
    sys.exit(main(sys.argv[1:]))
