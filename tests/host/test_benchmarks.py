"""The benchmarks run and print their figures; the memory budget (deterministic,
unlike timings) is held here so a change that breaks it is seen at once."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAP_BUDGET_20_RULES = 16 * 1024


def run(*cmd):
    r = subprocess.run(list(cmd), capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


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
