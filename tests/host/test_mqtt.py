"""The CPython MQTT backend against a real Mosquitto: credentials, last will,
retained messages, reconnects and their once-per-episode reports."""

import time

import pytest
from simulators.broker import Broker

from sunshift.cpython.mqtt import Client
from sunshift.errors import TransportError


def until(client, condition, timeout=5.0, got=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        messages = client.poll()
        if got is not None:
            got.extend(messages)
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture(scope="module")
def secured():
    with Broker(users={"sunshift": "right", "watcher": "w"}) as b:
        yield b


def test_credentials_subscribe_and_retained_messages(secured):
    states = []
    a = Client("127.0.0.1", secured.port, "a", "sunshift", "right", on_state=lambda up, text: states.append(up))
    a.subscribe("t/#")
    assert until(a, lambda: a.connected)
    a.publish("t/x", "42", retain=True)
    got = []
    assert until(a, lambda: ("t/x", b"42") in got, got=got)
    b = Client("127.0.0.1", secured.port, "b", "sunshift", "right")
    b.subscribe("t/#")
    got = []
    assert until(b, lambda: ("t/x", b"42") in got, got=got)  # retained for a newcomer
    assert states == [True]
    a.close()
    b.close()


def test_a_wrong_password_is_reported_once_and_retried_with_backoff(secured):
    states = []
    c = Client("127.0.0.1", secured.port, "c", "sunshift", "wrong", on_state=lambda up, text: states.append((up, text)))
    until(c, lambda: False, timeout=3.5)  # attempts at 0, 1 and 3 s
    assert not c.connected and c.last_error.kind == "auth"
    assert states == [(False, "the broker refused the connection (Not authorized)")]
    assert c.backoff.delay >= 2
    with pytest.raises(TransportError) as raised:
        c.publish("t/y", "1")
    assert raised.value.kind == "closed"


def test_the_last_will_says_offline_when_the_link_dies(secured):
    watcher = Client("127.0.0.1", secured.port, "watch", "watcher", "w")
    watcher.subscribe("site/status")
    assert until(watcher, lambda: watcher.connected)
    dying = Client("127.0.0.1", secured.port, "dying", "sunshift", "right", will=("site/status", "offline"))
    assert until(dying, lambda: dying.connected)
    dying.publish("site/status", "online", retain=True)
    got = []
    assert until(watcher, lambda: ("site/status", b"online") in got, got=got)
    dying.client.socket().close()  # a crash: no DISCONNECT, so the broker sends the will
    got = []
    assert until(watcher, lambda: ("site/status", b"offline") in got, timeout=10, got=got)
    watcher.close()


def test_a_broker_restart_reconnects_and_subscribes_again():
    with Broker() as broker:
        states = []
        c = Client("127.0.0.1", broker.port, "r", on_state=lambda up, text: states.append(up))
        c.subscribe("x/#")
        assert until(c, lambda: c.connected)
        broker.restart(pause=0.3)
        assert until(c, lambda: states[-1:] == [False])
        assert until(c, lambda: c.connected, timeout=8)
        other = Client("127.0.0.1", broker.port, "o")
        assert until(other, lambda: other.connected)
        other.publish("x/after", "1")
        got = []
        assert until(c, lambda: ("x/after", b"1") in got, got=got)  # the subscription came back
        assert states == [True, False, True]
        c.close()
        other.close()
