"""A real Mosquitto broker on loopback, for tests and the demo.

    with Broker(users={"sunshift": "secret"}) as broker:
        ... broker.port ...
        broker.restart()          # same port, retained messages kept in memory are lost

Mosquitto comes from Debian's packages (the test command installs it).
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time


def find_mosquitto():
    """Path of the mosquitto binary, or None."""
    return shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.path.exists(p)), None)


def free_port():
    """A TCP port nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    """Mosquitto on 127.0.0.1:``port``; with ``users`` it requires a password."""

    def __init__(self, port=None, users=None):
        self.binary = find_mosquitto()
        if self.binary is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto; bash tools/test.sh does it)")
        self.port = port or free_port()
        self.users = users or {}
        self.folder = tempfile.mkdtemp(prefix="sunshift-mosquitto-")
        # Started as root, mosquitto drops to its own user, which must read these files.
        os.chmod(self.folder, 0o755)
        self.process = None

    def _config(self):
        path = os.path.join(self.folder, "mosquitto.conf")
        # set_tcp_nodelay: small messages go out at once, not after a delayed ACK (40 ms).
        lines = ["listener %d 127.0.0.1" % self.port, "persistence false", "log_dest stderr", "log_type error", "set_tcp_nodelay true"]
        if self.users:
            passwords = os.path.join(self.folder, "passwd")
            open(passwords, "w").close()
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", passwords, user, password], check=True, capture_output=True)
            os.chmod(passwords, 0o644)
            lines += ["allow_anonymous false", "password_file %s" % passwords]
        else:
            lines.append("allow_anonymous true")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self):
        """Start the broker and wait until it accepts connections; returns self."""
        self.process = subprocess.Popen([self.binary, "-c", self._config()], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("mosquitto exited: %s" % self.process.stderr.read().decode(errors="replace"))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start on port %d" % self.port)

    def stop(self):
        """Stop the broker (its clients see the connection drop)."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process.stderr.close()
            self.process = None

    def restart(self, pause=0.0):
        """Stop, wait ``pause`` seconds, start again on the same port."""
        self.stop()
        time.sleep(pause)
        self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
