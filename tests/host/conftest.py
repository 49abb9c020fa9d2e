"""Shared setup for the CPython-only suites: the simulators live in tools/."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)

import time  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def broker():
    """A real Mosquitto on loopback for the whole test session."""
    from simulators.broker import Broker

    with Broker() as b:
        yield b


def pump(client, adapters, until, timeout=5.0):
    """Poll the MQTT ``client``, hand its messages to ``adapters``, until ``until()``."""
    end = time.monotonic() + timeout
    while True:
        for topic, payload in client.poll():
            for adapter in adapters:
                if adapter.handle(topic, payload):
                    break
        if until():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def no_currency():
    """Each test starts with prices shown without a currency sign: an evcc a test
    reads sets it (units.set_currency) for the whole process."""
    from sunshift import units

    units.set_currency(None)
    yield
    units.set_currency(None)
