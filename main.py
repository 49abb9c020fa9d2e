"""Entry point on both interpreters: `python3 main.py <command>` on a PC or Pi.

It runs from a checkout with nothing installed: the package lives in lib/.
"""

import sys

if "lib" not in sys.path:
    sys.path.insert(0, "lib")
_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
if _here + "/lib" not in sys.path:
    sys.path.insert(0, _here + "/lib")

from sunshift import cli  # noqa: E402

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
