#!/usr/bin/env python3
"""What the commands print, recorded, so a change that should change nothing can be shown to.

    python3 tools/outputs.py record DIR     run the commands, write one file per command into DIR
    python3 tools/outputs.py compare DIR    run them again; print a diff per file that differs; exit 1 if any

The commands are those a user runs, through main.py: `check` on the shipped
rules and on broken ones, `sim` on every example trace and built-in scenario
(and the price rules against the same loads without prices)
(the decisions, the decision log of -v, the figures), and `read` of every
simulator (each Envoy firmware of the corpus, evcc, EMS-ESP, Enode) over real
loopback sockets.  What varies from run to run is taken out first: the
seconds a simulation took, temporary paths, the simulators' ports, the times
in Enode's answers.  tests/outputs/ holds the recorded outputs of main;
tests/host/test_outputs.py compares against them, so a change in what a user
sees shows up as a diff in review: record again when it is meant.
"""

import difflib
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(ROOT, "main.py")
sys.path.insert(0, os.path.join(ROOT, "tools"))

TRACES = ("cloudy_day", "envoy_dropout", "surplus_hour")
SCENARIOS = ("sunny", "broken_clouds", "winter")

# Rule files with mistakes, for the messages `check` prints.
BAD_RULES = {
    "typos.rules": "let surplus = -envoy.net_consumption\nrule a\n  whn surplus > 1kW\n  then evcc.loadpoints.1.mode = pv\n",
    "units.rules": "rule b\n  when envoy.production > 1.4 kW\n  then evcc.loadpoints.1.mode = pv\n  hold 5x\n",
    "names.rules": "rule c\n  when surplsu > 1kW for 2m\n  then evcc.loadpoints.1.mode = pv\n  else evcc.loadpoints.1.mode == off\n",
    "structure.rules": "when x > 1\nrule d\n  when (envoy.production > 1 and\n  then evcc.loadpoints.1.mode = now\nrule d\n  when true\n  then x = 1\n",
}


def run(args, cwd=ROOT, env=None):
    """(exit code, stdout, stderr) of main.py with ``args`` (and ``env`` added to the environment)."""
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SUNSHIFT_TOKEN")}
    env.update(extra)
    r = subprocess.run([sys.executable, MAIN, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def shown(code, out, err):
    """One text for a command's result."""
    return "exit %d\n--- stdout\n%s--- stderr\n%s" % (code, out, err)


def checks(tmp):
    yield "check-rules", run(["check", "rules/"])
    yield "check-enode", run(["check", "rules/enode"])
    yield "check-bench", run(["check", "rules/", "tools/bench_site/extra.rules"])
    for name, text in BAD_RULES.items():
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)
    yield "check-bad", run(["check", *sorted(BAD_RULES)], cwd=tmp)


def _took(err):
    # "simulated 1d (8640 steps, 9001 ticks) in 0.52 s: ..." -> "in ? s"
    return re.sub(r" in [0-9.]+ s:", " in ? s:", err)


def sims(tmp):
    for trace in TRACES:
        path = "tests/traces/%s.csv" % trace
        summary = os.path.join(tmp, trace + ".json")
        code, out, err = run(["sim", "--rules", "rules/", "--trace", path, "--summary", summary, "-v"])
        with open(summary) as f:
            figures = f.read()
        yield "sim-trace-%s" % trace, (code, out + "--- summary\n" + figures, _took(err))
    for scenario in SCENARIOS:
        summary = os.path.join(tmp, scenario + ".json")
        code, out, err = run(["sim", "--rules", "rules/", "--scenario", scenario, "--summary", summary, "-v"])
        with open(summary) as f:
            figures = f.read()
        yield "sim-scenario-%s" % scenario, (code, out + "--- summary\n" + figures, _took(err))
    code, out, err = run(["scenario", "winter", "--rules", "rules/", "--step", "60s"])
    yield "scenario-winter", (code, out, err)
    # The price rules on the dynamic-tariff days, against the same loads without prices.
    for scenario in ("winter_prices", "spring_prices"):
        summary = os.path.join(tmp, scenario + ".json")
        code, out, err = run(["sim", "--rules", "rules/prices/", "--scenario", scenario, "--against", "examples/no-prices/", "--summary", summary])
        with open(summary) as f:
            figures = f.read()
        yield "sim-prices-%s" % scenario, (code, out + "--- summary\n" + figures, _took(err))
    yield "check-prices", run(["check", "--config", "examples/site.json", "rules/", "rules/prices/"])


def _ports(text, sims):
    for sim in sims:
        text = text.replace(sim.url, "URL")
    return text


def reads(tmp):
    from simulators.emsesp import EmsEspSimulator
    from simulators.enode import BATTERY_ID, CLIENT_ID, CLIENT_SECRET, USER_ID, VEHICLE_ID, EnodeSim
    from simulators.envoy import EnvoySimulator, variants
    from simulators.evcc import EvccSimulator

    for variant in variants():
        with EnvoySimulator(variant) as envoy:
            args = ["read", "envoy", "--url", envoy.url]
            extra = None
            if envoy.token:
                args += ["--insecure"]
                extra = {"SUNSHIFT_TOKEN": envoy.token}  # never on the command line
            code, out, err = run(args, env=extra)
            yield "read-envoy-%s" % variant, (code, out, _ports(err, [envoy]).replace(envoy.token or "\0", "TOKEN"))
    with EvccSimulator() as evcc:
        code, out, err = run(["read", "evcc", "--url", evcc.url])
        yield "read-evcc", (code, out, _ports(err, [evcc]))
    with EmsEspSimulator() as ems:
        code, out, err = run(["read", "emsesp", "--url", ems.url])
        yield "read-emsesp", (code, out, _ports(err, [ems]))
    with EnodeSim() as cloud:
        device = {
            "type": "enode",
            "api_url": cloud.url,
            "token_url": cloud.url + "/oauth2/token",
            "user": USER_ID,
            "vehicles": {"car": VEHICLE_ID},
            "batteries": {"home": BATTERY_ID},
        }
        site = os.path.join(tmp, "enode-site.json")
        with open(site, "w") as f:
            json.dump({"rules": [], "devices": {"enode": device}}, f)
        with open(os.path.join(tmp, "secrets.json"), "w") as f:
            json.dump({"enode": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}, f)
        code, out, err = run(["read", "enode", "--config", site])
        out = re.sub(r'"\d{4}-\d\d-\d\dT[0-9:.]+Z"', '"TIME"', out)
        yield "read-enode", (code, out, _ports(err, [cloud]).replace(tmp, "TMP"))


def outputs():
    """{name: text} of every recorded command."""
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        for group in (checks, sims, reads):
            for name, result in group(tmp):
                found[name] = shown(*result).replace(tmp, "TMP")
    return found


def record(folder):
    """Write every output into ``folder`` (old files of it are removed first)."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".txt"):
            os.remove(os.path.join(folder, name))
    found = outputs()
    for name, text in found.items():
        with open(os.path.join(folder, name + ".txt"), "w") as f:
            f.write(text)
    return found


def compare(folder):
    """Diffs between the outputs now and those in ``folder``: a list of texts (empty: the same)."""
    found = outputs()
    diffs = []
    recorded = sorted(name[:-4] for name in os.listdir(folder) if name.endswith(".txt"))
    for name in sorted(set(recorded) | set(found)):
        path = os.path.join(folder, name + ".txt")
        if name not in found:
            diffs.append("%s: recorded, but no longer produced\n" % name)
            continue
        if name not in recorded:
            diffs.append("%s: new, not recorded\n" % name)
            continue
        with open(path) as f:
            old = f.read()
        if old != found[name]:
            diffs.append("".join(difflib.unified_diff(old.splitlines(True), found[name].splitlines(True), path, "now", n=2)))
    return diffs


def main(argv):
    if len(argv) != 2 or argv[0] not in ("record", "compare"):
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    if argv[0] == "record":
        found = record(argv[1])
        print("recorded %d outputs in %s" % (len(found), argv[1]))
        return 0
    diffs = compare(argv[1])
    for text in diffs:
        sys.stdout.write(text)
    print("%d output%s differ%s" % (len(diffs), "" if len(diffs) == 1 else "s", "s" if len(diffs) == 1 else ""))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
