"""The simulator's commands: `sim` (rules against a recorded or built-in day)
and `scenario` (a built-in day written as a trace)."""

from .. import port, units
from ..errors import RuleError
from ..lang import ruleset
from ..site.catalog import Catalog
from ..text import close_to
from . import sim
from .options import UsageError, parse_options, print_problems, sample_step, stale_limit, write
from .trace import Trace, TraceError

SIM_SPEC = {
    "--rules": "many",
    "--against": "many",
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


def _trace_warnings(rs, trace, err):
    """Warn about signals the rules read but the trace lacks, and columns that
    look like a misspelt one of them (file:line:col)."""
    read = rs.signals()
    for name in read:
        if name not in trace.columns:
            guess = close_to(name, trace.columns)
            hint = " (the column '%s' is close: a typo?)" % guess if guess else ""
            write(err, "%s: warning: no column for %s, which the rules read; rules that need it stay in their safe branch%s" % (trace.path, name, hint))
    for k, name in enumerate(trace.columns):
        if name in read:
            continue
        guess = close_to(name, [r for r in read if r not in trace.columns])
        if guess:
            write(err, "%s:%d:%d: warning: no rule reads '%s'; did you mean %s?" % (trace.path, trace.header_line, trace.column_cols[k], name, guess))


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
    max_age = stale_limit(options)
    scenario = None
    if "--scenario" in options:
        try:
            scenario = scenarios.get(options["--scenario"])
        except ValueError as e:
            raise UsageError(str(e))
        step = sample_step(options)
    # Prices in reasons and figures: in the scenario's currency, or with no sign.
    units.set_currency(scenario.tariff.currency if scenario is not None and scenario.tariff is not None else None)
    try:
        rs = ruleset.load(options["--rules"], Catalog())
        other = ruleset.load(options["--against"], Catalog()) if "--against" in options else None
    except RuleError as e:
        print_problems(e.problems, err)
        return 1
    print_problems(rs.warnings, err)
    trace = None
    if scenario is None:
        try:
            trace = Trace(options["--trace"])
        except TraceError as e:
            write(err, str(e))
            return 1
        _trace_warnings(rs, trace, err)
    verbose = options.get("--verbose")
    changes = []

    def on_event(event):
        t, source, text = event
        write(err, "t=%s %s %s: %s" % (units.format_number(t, 1), units.format_clock(run.sim.tod(t)), source, text))

    began = port.ticks_ms()
    run = runs.Run(rs, start, max_age, record="--plot" in options, on_change=changes.append, on_event=on_event if verbose else None)
    try:
        if trace is not None:
            run.trace(trace)
        else:
            run.scenario(scenarios.Home(scenario), step)
    except TraceError as e:
        write(err, str(e))  # nothing was written: a bad trace gives no half a result
        return 1
    took = port.ticks_diff(port.ticks_ms(), began) / 1000
    target = options.get("--out")
    sink = open(target, "w") if target else out
    try:
        for change in changes:
            write(sink, sim.change_json(change))
    finally:
        if sink is not out:
            sink.close()
    figures = run.figures()
    where = _summary_path(options)
    if where:
        port.write_atomic(where, summary.to_json(figures) + "\n")
    if not options.get("--quiet"):
        write(
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
            write(err, line)
    if other is not None:
        # The other rule set on the same day: its figures beside these.
        again = runs.Run(other, start, max_age)
        if trace is not None:
            again.trace(Trace(options["--trace"]))
        else:
            again.scenario(scenarios.Home(scenario), step)
        write(err, "compared with %s:" % " ".join(options["--against"]))
        for line in summary.compare(figures, again.figures(), " ".join(options["--rules"]), " ".join(options["--against"])):
            write(err, line)
    if "--plot" in options:
        from . import plot

        source = scenario.title if scenario else trace.path
        plot.write(run.day(), options["--plot"], "%s: %s" % (source, ", ".join(sorted(set(r.path for r in rs.rules)))))
        if not options.get("--quiet"):
            write(err, "picture: %s" % options["--plot"])
    return 0


def cmd_scenario(args, out, err):
    """`scenario NAME`: write a built-in day as a trace CSV (see scenarios.py)."""
    from . import runs, scenarios

    options, rest = parse_options(args, {"--rules": "many", "--step": "one", "--out": "one", "--list": "flag"})
    if options.get("--list"):
        for name in sorted(scenarios.SCENARIOS):
            write(out, "%-14s %s" % (name, scenarios.SCENARIOS[name].title))
        return 0
    if len(rest) != 1:
        raise UsageError("scenario needs one name (%s), or --list" % ", ".join(sorted(scenarios.SCENARIOS)))
    try:
        scenario = scenarios.get(rest[0])
    except ValueError as e:
        raise UsageError(str(e))
    step = sample_step(options)
    try:
        rs = ruleset.load(options["--rules"], Catalog()) if "--rules" in options else ruleset.compile_sources([])
    except RuleError as e:
        print_problems(e.problems, err)
        return 1
    target = options.get("--out")
    sink = open(target, "w") if target else out
    columns = scenario.signals()
    try:
        write(sink, "# sunshift scenario %s (%s), one sample every %d s, t=0 at 00:00" % (scenario.name, scenario.title, step))
        if "--rules" in options:
            write(sink, "# the loads answer the writes of: %s" % " ".join(options["--rules"]))
        else:
            write(sink, "# no rules: the car and the hot water stay as the devices start (car off, 50 °C)")
        write(sink, "t," + ",".join(columns))
        runs.Run(rs).scenario(scenarios.Home(scenario), step, on_row=lambda t, samples: write(sink, runs.csv_row(t, samples, columns)))
    finally:
        if sink is not out:
            sink.close()
    return 0
