"""The benchmarks run and print their figures; the memory budget (deterministic,
unlike timings) is held here so a change that breaks it is seen at once."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAP_BUDGET_20_RULES = 16 * 1024


_OUTPUTS = {}


def run(*cmd):
    """stdout of ``cmd`` run from the project root; the memory benchmarks are
    deterministic and take seconds, so a command runs once per session."""
    if cmd not in _OUTPUTS:
        r = subprocess.run(list(cmd), capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        _OUTPUTS[cmd] = r.stdout
    return _OUTPUTS[cmd]


def test_engine_benchmark_on_cpython_prints_its_figures():
    out = run(sys.executable, "tools/bench_engine.py", "100")
    assert re.search(r"cpython: \d+\.\d us per rule evaluation \(20 rules, 100 ticks", out), out
    assert re.search(r"cpython: memory for 20 parsed rules: \d+ bytes held", out), out


def test_engine_benchmark_on_micropython_keeps_the_heap_budget():
    out = run("node", "tools/mprun.mjs", "tools/bench_engine.py", "100")
    assert re.search(r"micropython: \d+\.\d us per rule evaluation", out), out
    held = int(re.search(r"micropython: heap for 20 parsed rules: (\d+) bytes held", out).group(1))
    assert 2000 < held <= HEAP_BUDGET_20_RULES, held


HEAP_BUDGET_SITE = 48 * 1024  # DESIGN.md: engine + three adapters + 10 rules after a full tick


def test_memory_benchmark_on_micropython_keeps_the_site_budget():
    out = run("node", "tools/mprun.mjs", "tools/bench_memory.py")
    assert "WARNING" not in out, out  # a device that failed would make the figures meaningless
    held = int(re.search(r"micropython: site held after a full tick and \d+ more turns: (\d+) bytes", out).group(1))
    assert 8000 < held <= HEAP_BUDGET_SITE, held
    assert re.search(r"micropython: largest allocation step: \d+ bytes", out), out


def test_memory_benchmark_on_cpython_prints_its_figures():
    out = run(sys.executable, "tools/bench_memory.py")
    assert "WARNING" not in out, out
    assert re.search(r"cpython: site held after the turns: \d+ bytes", out), out


def imports_held(out, label):
    found = re.search(r"^micropython: imports \(%s\): (\d+) bytes held$" % re.escape(label), out, re.M)
    assert found, out
    return int(found.group(1))


def test_memory_benchmark_with_the_deployed_mpy_files_holds_less_code_than_source():
    """python3 tools/bench_memory.py compiles the bench site's package with
    tools/deploy.py's compile_package and runs the benchmark under MicroPython
    with those .mpy files (tools/mprun.mjs --mpy); the imports phase then holds
    the code as a board with a copied package does, less than source compiled
    on the fly, and the site itself keeps its budget."""
    out = run(sys.executable, "tools/bench_memory.py")
    assert "WARNING" not in out, out  # also: a sunshift module not loaded from a .mpy file
    assert "MicroPython run with the .mpy files" not in out, out  # not skipped, not failed
    mpy = imports_held(out, ".mpy files as tools/deploy.py copies them")
    site = int(re.search(r"micropython: site held after a full tick and \d+ more turns: (\d+) bytes", out).group(1))
    total = int(re.search(r"micropython: with the imported modules \(\.mpy as copied\): (\d+) bytes", out).group(1))
    assert 8000 < site <= HEAP_BUDGET_SITE, site
    source = imports_held(run("node", "tools/mprun.mjs", "tools/bench_memory.py"), "runner, config and what they import")
    assert 20000 < mpy < source, (mpy, source)
    assert site + mpy - 1024 < total < site + mpy + 1024, (site, mpy, total)  # the report's own sum


def test_chaos_soak_runs_a_short_schedule_without_a_crash_or_a_traceback():
    """tools/bench_chaos.py for half a minute, faults of 2 s: its report's
    structure, and the engine neither died nor printed a traceback."""
    import json

    cmd = [sys.executable, "tools/bench_chaos.py", "--minutes", "0.4", "--fault", "2", "--quiet", "2", "--flip", "5"]
    cmd += ["--warmup", "4", "--settle", "5", "--rss-every", "2", "--rss-warmup", "5", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["crashes"] == 0 and report["tracebacks"] == 0, report
    assert report["episodes"] >= 4, report
    assert set(report["writes"]["final"]) == {"evcc.loadpoints.1.mode", "emsesp.boiler.dhw.seltemp"}, report
    assert report["writes"]["applied"] > 0 and report["writes"]["lost"] == 0, report["writes"]
    assert sum(f["episodes"] for f in report["recovery"].values()) == report["episodes"], report["recovery"]
    for figures in report["recovery"].values():
        assert {"recovery_max", "target", "ok", "log_lines_per_episode"} <= set(figures), figures
    assert report["rss"]["samples"] >= 5 and report["rss"]["max_mb"] > 0, report["rss"]
