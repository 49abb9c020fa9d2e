// Run a Python file under the real MicroPython (the official WebAssembly build,
// pinned in tools/package.json), with the project's lib/, tests/, tools/ and
// rules/ copied into its in-memory filesystem.
//
//   node tools/mprun.mjs [--heap BYTES] [--mpy DIR] FILE.py [ARGS...]
//
// --mpy DIR copies DIR (a folder holding a sunshift/ package of .mpy files, as
// tools/deploy.py's compile_package writes under BUILD/lib) to /mpy and puts
// it on sys.path before /lib: `import sunshift...` then loads those .mpy files
// (an import takes the first sys.path entry that has the package; its
// submodules come from that folder only), and /tests, /tools and /lib's other
// contents stay importable.
//
// The build's own entry always exits 0, even after an exception; this runner
// exits 1 when the script raises, and with the script's `exit_code` global
// when it sets one.
//
// Memory: inside one runPython call this build's conservative GC keeps dead
// objects alive (stale words on its stack), so gc.mem_alloc() deltas taken
// there count garbage.  A script that wants heap figures defines
// MEASURE = [(label, function), ...]; after the script, the runner calls each
// function in a runPython call of its own, with gc.collect() in separate calls
// before and after, keeps what it returns alive, and prints
// "<label>: <bytes> bytes held".
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const COPY = ["lib", "tests", "tools", "rules"];
const SKIP = new Set(["node_modules", "__pycache__", ".pytest_cache", ".hypothesis"]);

function copyTree(mp, from, to) {
  mp.FS.mkdir(to);
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue;
    const src = path.join(from, entry.name);
    const dst = to + "/" + entry.name;
    if (entry.isDirectory()) copyTree(mp, src, dst);
    else if (entry.isFile()) mp.FS.writeFile(dst, fs.readFileSync(src));
  }
}

const USAGE = "usage: node tools/mprun.mjs [--heap BYTES] [--mpy DIR] FILE.py [ARGS...]\n";
let args = process.argv.slice(2);
let heap = 4 * 1024 * 1024;
let mpyDir = null;
while (args.length > 1 && (args[0] === "--heap" || args[0] === "--mpy")) {
  if (args[0] === "--heap") heap = Number(args[1]);
  else mpyDir = path.resolve(args[1]);
  args = args.slice(2);
}
if (args.length === 0 || args[0].startsWith("--")) {
  process.stderr.write(USAGE);
  process.exit(2);
}
if (mpyDir !== null && !fs.existsSync(path.join(mpyDir, "sunshift"))) {
  process.stderr.write("mprun: --mpy " + mpyDir + ": no sunshift/ folder in it\n");
  process.exit(2);
}
const script = args[0];
const mp = await loadMicroPython({
  heapsize: heap,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
for (const dir of COPY) {
  if (fs.existsSync(path.join(root, dir))) copyTree(mp, path.join(root, dir), "/" + dir);
}
if (mpyDir !== null) copyTree(mp, mpyDir, "/mpy");
const paths = JSON.stringify((mpyDir !== null ? ["/mpy"] : []).concat(["/lib", ""]));
const argv = JSON.stringify(["/" + path.relative(root, path.resolve(script))].concat(args.slice(1)));
let code = 0;
try {
  mp.runPython(
    "import sys, os\nos.chdir('/')\nsys.path[:] = " + paths + "\nsys.argv[:] = " + argv + "\n"
  );
  mp.runPython(fs.readFileSync(script, "utf8"));
  mp.runPython("_MEASURE = globals().get('MEASURE') or []\n_KEPT = []\nimport gc");
  mp.runPython("_STEPS = len(_MEASURE)");
  const steps = mp.globals.get("_STEPS");
  for (let i = 0; i < steps; i++) {
    mp.runPython("gc.collect()");
    mp.runPython("_before = gc.mem_alloc()");
    mp.runPython("_KEPT.append(_MEASURE[" + i + "][1]())");
    mp.runPython("gc.collect()");
    mp.runPython("print('%s: %d bytes held' % (_MEASURE[" + i + "][0], gc.mem_alloc() - _before))");
  }
  const set = mp.globals.get("exit_code");
  if (typeof set === "number") code = set;
} catch (err) {
  process.stderr.write(String(err.message || err) + "\n");
  code = 1;
}
process.exit(code);
