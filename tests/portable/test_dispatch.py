"""Dispatching decisions: real writes, dry-run, and failed writes retried."""

from sunshift import port
from sunshift.core import engine
from sunshift.core.dispatch import Dispatcher
from sunshift.errors import SunshiftError
from support import rules

TEXT = "rule r\n  when a.x > 10\n  then t.mode = pv\n  else t.mode = off\n"


class Device:
    """A stand-in device that keeps what it is told and can be made to refuse."""

    def __init__(self):
        self.settings = {}
        self.refuse = None

    def write(self, target, value):
        if self.refuse:
            raise SunshiftError(self.refuse)
        self.settings[target] = value


def setup(dry_run=False):
    lines = []
    log = port.Log(sink=lines.append, stamp=lambda: "T")
    device = Device()
    eng = engine.Engine(rules(TEXT))
    return Dispatcher(eng, device.write, log, dry_run=dry_run, retry_after=30), device, lines


def test_changes_reach_the_device_and_the_log():
    d, device, lines = setup()
    d.engine.update("a.x", 20, 0)
    d.step(0)
    assert device.settings == {"t.mode": "pv"}
    assert lines == ["T INFO r: start -> active: a.x 20 > 10", 'T INFO t.mode: set "pv" (r: a.x 20 > 10)']


def test_dry_run_logs_what_it_would_write_and_writes_nothing():
    d, device, lines = setup(dry_run=True)
    d.engine.update("a.x", 20, 0)
    changes = d.step(0)
    assert [(c.target, c.value) for c in changes] == [("t.mode", "pv")]
    assert device.settings == {}
    assert lines[-1] == 'T INFO t.mode: dry-run: would set "pv" (r: a.x 20 > 10)'
    # Said once: the same wanted value is not announced again.
    d.engine.update("a.x", 20, 10)
    d.step(10)
    assert len([line for line in lines if "dry-run" in line]) == 1


def test_a_failed_write_is_logged_once_and_retried():
    d, device, lines = setup()
    device.refuse = "evcc http://evcc.local:7070 POST /api/loadpoints/1/mode/pv: timed out after 5 s"
    d.engine.update("a.x", 20, 0)
    d.step(0)
    for t in (10, 20, 30):
        d.engine.update("a.x", 20, t)
        d.step(t)
    warnings = [line for line in lines if "WARN" in line]
    assert warnings == ['T WARN t.mode: could not set "pv": %s; trying again in 30s' % device.refuse]
    assert device.settings == {}
    device.refuse = None
    d.engine.update("a.x", 20, 60)
    d.step(60)
    assert device.settings == {}  # the second failure, at 30, doubled the pause: 60 s
    d.engine.update("a.x", 20, 90)
    d.step(90)
    assert device.settings == {"t.mode": "pv"}
    # The retry carries the decision it carries out, and when that was made.
    assert lines[-2:] == ["T INFO t.mode: reachable again", 'T INFO t.mode: set "pv" (r: decided 1m30s ago: a.x 20 > 10)']


def test_a_refused_write_is_retried_sooner_at_first_then_less_often():
    eng = engine.Engine(rules(TEXT))
    device = Device()
    lines = []
    d = Dispatcher(eng, device.write, port.Log(sink=lines.append, stamp=lambda: "T"))  # the defaults: 5 s, doubling, 300 s at most
    device.refuse = "evcc http://evcc.local:7070 POST /api/loadpoints/1/mode/pv: the device failed (HTTP 500)"
    tries = []
    real = device.write

    def counted(target, value):
        tries.append(t)
        real(target, value)

    d.write = counted
    for t in range(0, 1000):
        eng.update("a.x", 20, t)
        d.step(t)
    gaps = [tries[k + 1] - tries[k] for k in range(len(tries) - 1)]
    assert gaps[:7] == [5, 10, 20, 40, 80, 160, 300] and set(gaps[6:]) == {300}
    assert [line for line in lines if "WARN" in line] == ['T WARN t.mode: could not set "pv": %s; trying again in 5s' % device.refuse]
    device.refuse = None  # it takes the value; the next failure starts again at 5 s
    for t in range(1000, 1300):
        eng.update("a.x", 20, t)
        d.step(t)
    assert device.settings == {"t.mode": "pv"} and d.attempts == {}


def test_waiting_for_a_connection_is_not_a_warning():
    from sunshift.errors import DeviceError

    d, _, lines = setup()

    def not_connected(target, value):
        raise DeviceError("evcc", "MQTT evcc/loadpoints/1/mode/set", "not connected to the MQTT broker", "closed")

    d.write = not_connected
    d.engine.update("a.x", 20, 0)
    d.step(0)
    assert lines[-1] == 'T INFO t.mode: "pv" waits for the connection: evcc MQTT evcc/loadpoints/1/mode/set: not connected to the MQTT broker'
    assert not [line for line in lines if "WARN" in line]


def test_a_dry_run_refuses_what_the_real_write_would():
    d, device, lines = setup(dry_run=True)

    def describe(target, value):
        raise SunshiftError("%s needs one of off pv minpv now smart, not 'fast'" % target)

    d.describe = describe
    d.engine.update("a.x", 20, 0)
    d.step(0)
    assert lines[-1] == "T WARN t.mode: dry-run: would not set \"pv\": t.mode needs one of off pv minpv now smart, not 'fast'; trying again in 30s"
    d.describe = lambda target, value: "POST /api/loadpoints/1/mode/pv"
    d.engine.update("a.x", 20, 30)
    d.step(30)
    assert lines[-1] == 'T INFO t.mode: dry-run: would set "pv" (r: decided 30s ago: a.x 20 > 10); it would POST /api/loadpoints/1/mode/pv'
    assert device.settings == {}
