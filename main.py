"""Entry point on both interpreters: `python3 main.py <command>` on a PC or Pi,
and the engine on a board (docs/device.md).

On a PC it runs from a checkout with nothing installed: the package lives in lib/,
and `demo` finds the simulators it starts in tools/.  A board (MicroPython with
no command line) runs sunshift.board.supervisor instead.
"""

import sys

if sys.implementation.name == "micropython" and not sys.argv:
    from sunshift.board import supervisor

    supervisor.main()
else:
    if "lib" not in sys.path:
        sys.path.insert(0, "lib")
    _here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    if _here + "/lib" not in sys.path:
        sys.path.insert(0, _here + "/lib")
    if _here + "/tools" not in sys.path:
        sys.path.append(_here + "/tools")  # last: tools/ only adds the demo and its simulators

    from sunshift.host import cli

    if __name__ == "__main__":
        sys.exit(cli.main(sys.argv[1:]))
