"""Each device's poll in a thread of its own, on CPython: one slow device costs the others nothing.

The runner (site/runner.Runner) starts a device's poll here when it is due and
takes its outcome on a later turn; the engine, the writes and the logging stay
on the loop's thread.  A device's HTTP session is one connection and not for
two threads at once, so its poll, its writes and its own work between polls
(Enode's actions) take turns through the device's lock.  A board has no
threads to spare: there the runner polls one device after another and each
request's deadline (net/http.py) bounds what a slow device costs.
"""

import threading


class Polls:
    """The polls under way, and the outcomes of those that ended."""

    def __init__(self):
        self.guard = threading.Lock()
        self.finished = []  # (device name, outcome) in the order they ended
        self.running = {}  # device name -> its thread
        self.locks = {}  # device name -> the lock of its connection

    def busy(self, name):
        """True while the device ``name`` is being polled."""
        return name in self.running

    def start(self, name, fetch):
        """Run ``fetch()`` (the poll; it returns its outcome and raises nothing) in a new thread."""
        lock = self._lock(name)

        def work():
            with lock:
                outcome = fetch()
            with self.guard:
                self.finished.append((name, outcome))

        thread = threading.Thread(target=work, name="poll " + name, daemon=True)
        self.running[name] = thread
        thread.start()

    def done(self):
        """The (device name, outcome) of the polls that ended since the last call."""
        with self.guard:
            ended, self.finished = self.finished, []
        for name, _ in ended:
            self.running.pop(name, None)
        return ended

    def take(self, name, wait):
        """True when the device's connection is ours (within ``wait`` seconds); give() it back after."""
        return self._lock(name).acquire(True, wait)

    def give(self, name):
        """Hand the device's connection back after take()."""
        self._lock(name).release()

    def close(self, wait):
        """Wait up to ``wait`` seconds for the polls under way (their deadlines end them)."""
        for thread in list(self.running.values()):
            thread.join(wait)

    def _lock(self, name):
        lock = self.locks.get(name)
        if lock is None:
            lock = self.locks[name] = threading.Lock()
        return lock
