"""mqtt.Client on micropython-lib's umqtt.simple, over scripted sockets
that replay MQTT 3.1.1 exchanges byte for byte (MicroPython only)."""

import errno

from wire import EOF_, NET, STALL, Conn, Hang, mqtt_str

from sunshift.net import link, mqtt

CONNACK_OK = b"\x20\x02\x00\x00"  # session present 0, return code 0
PINGREQ = b"\xc0\x00"
PINGRESP = b"\xd0\x00"


class Clock:
    """ticks_ms for the backend: time moves only when a test says so."""

    def __init__(self):
        self.now = 100000

    def __call__(self):
        return self.now


def start(**options):
    """A client with a test clock, and the state changes it reports."""
    clock = Clock()
    mqtt.ticks_ms = clock
    link.ticks_ms = clock
    states = []
    settings = {"client_id": "sunshift-test", "keepalive": 30, "timeout": 5}
    settings.update(options)
    client = mqtt.Client("broker.local", 1883, on_state=lambda up, text: states.append((up, text)), **settings)
    return client, clock, states


def connect_packet(client_id, flags, keepalive, *strings):
    """CONNECT (MQTT 3.1.1, 3.1): protocol name, level 4, flags, keepalive, payload strings."""
    body = mqtt_str("MQTT") + bytes((4, flags, keepalive >> 8, keepalive & 0xFF)) + mqtt_str(client_id)
    for text in strings:
        body += mqtt_str(text)
    return b"\x10" + remaining(len(body)) + body


def remaining(n):
    """The Remaining Length field (2.2.3): 7 bits per byte, low first."""
    out = b""
    while True:
        byte = n & 0x7F
        n >>= 7
        out += bytes((byte | 0x80 if n else byte,))
        if not n:
            return out


def publish_packet(topic, payload, retain=False):
    """PUBLISH QoS 0 (3.3)."""
    body = mqtt_str(topic) + payload
    return bytes((0x31 if retain else 0x30,)) + remaining(len(body)) + body


def subscribe_packet(pid, topic):
    """SUBSCRIBE (3.8): fixed header 0x82, packet id, topic filter, requested QoS 0."""
    body = bytes((pid >> 8, pid & 0xFF)) + mqtt_str(topic) + b"\x00"
    return b"\x82" + remaining(len(body)) + body


def suback(pid):
    """SUBACK (3.9) granting QoS 0."""
    return b"\x90\x03" + bytes((pid >> 8, pid & 0xFF)) + b"\x00"


def test_the_backend_runs_on_the_real_umqtt_simple():
    assert mqtt.AVAILABLE
    assert mqtt.simple.__file__.endswith("vendor/micropython-lib/umqtt/simple.py")


def test_a_full_round_connect_subscribe_receive_publish_ping_close():
    client, clock, states = start(username="sun", password="shift", will=("sunshift/status", "offline"))
    client.subscribe("evcc/#")
    client.subscribe("emsesp/boiler_data")
    big = b'{"curflowtemp": 41.5, "dhw": {"seltemp": 55, "curtemp": 49.1}, "pad": "' + b"x" * 150 + b'"}'
    incoming = publish_packet("emsesp/boiler_data", big)
    conn = Conn(
        CONNACK_OK[:2],  # the CONNACK arrives in two pieces
        CONNACK_OK[2:],
        suback(1),
        # a retained message on the first subscription comes before the second SUBACK
        publish_packet("evcc/site/gridPower", b"-1520.5", retain=True) + suback(2)[:1],
        suback(2)[1:],
        # then a PUBLISH with a two-byte Remaining Length, split over three reads
        incoming[:1],
        incoming[1:40],
        incoming[40:],
    )
    NET.expect(conn)

    messages = client.poll()

    # CONNECT: clean session, will QoS 1 retained, username and password -> flags 0xEE; keepalive 30 s
    expected = connect_packet("sunshift-test", 0xEE, 30, "sunshift/status", "offline", "sun", "shift")
    assert expected[:2] == b"\x10\x3f"
    assert expected[2:12] == b"\x00\x04MQTT\x04\xee\x00\x1e"
    sent = conn.take_sent()
    assert sent[: len(expected)] == expected
    assert sent[len(expected) :] == subscribe_packet(1, "evcc/#") + subscribe_packet(2, "emsesp/boiler_data")
    assert NET.lookups[-1] == ("broker.local", 1883)
    assert conn.address == ("broker.local", 1883)
    assert len(incoming) > 130 and incoming[1:3] == remaining(len(incoming) - 3)  # two length bytes
    assert messages == [("evcc/site/gridPower", b"-1520.5"), ("emsesp/boiler_data", big)]
    assert states == [(True, "connected to broker.local:1883")]
    assert conn.finished()
    # every wait had the timeout: umqtt's own settimeout(None) and setblocking(True) map to it
    assert None not in conn.timeouts, conn.timeouts

    # our PUBLISH, QoS 0, not retained: 0x30, length, topic, payload -- nothing else
    client.publish("evcc/loadpoints/1/mode/set", "pv")
    assert conn.take_sent() == b"\x30\x1e\x00\x1aevcc/loadpoints/1/mode/set" + b"pv"
    client.publish("evcc/loadpoints/1/mode/set", "off", retain=True)
    assert conn.take_sent() == publish_packet("evcc/loadpoints/1/mode/set", b"off", retain=True)

    # PINGREQ once keepalive/2 has passed since the connection, not before
    clock.now += 14999
    assert client.poll() == []
    assert conn.take_sent() == b""
    clock.now += 1
    assert client.poll() == []
    assert conn.take_sent() == PINGREQ
    conn.steps.append(PINGRESP)
    assert client.poll() == []
    assert conn.finished() and conn.take_sent() == b""
    assert states == [(True, "connected to broker.local:1883")]

    client.close()
    assert conn.take_sent() == b"\xe0\x00"  # DISCONNECT
    assert conn.closed
    assert NET.idle()


def test_text_is_sized_in_bytes_not_characters():
    # umqtt sizes packets with len(); a str with a non-ASCII character would be a
    # byte short on the wire and corrupt the stream (fixed: the backend hands it bytes).
    client, _, _ = start(password="pässwörd", username="sun")
    conn = Conn(CONNACK_OK)
    NET.expect(conn)
    client.poll()
    assert conn.take_sent() == connect_packet("sunshift-test", 0xC2, 30, "sun", "pässwörd")
    client.publish("sunshift/notice", "Warmwasser 55 °C")
    assert conn.take_sent() == publish_packet("sunshift/notice", "Warmwasser 55 °C".encode())
    client.close()


def test_a_refused_connack_is_an_auth_error_told_once_and_retried_with_backoff():
    client, clock, states = start(username="sun", password="wrong")
    first = Conn(b"\x20\x02\x00\x05")  # return code 5: not authorized
    NET.expect(first)
    assert client.poll() == []
    assert states == [(False, "the broker refused the connection (code 5)")]
    assert client.last_error.kind == "auth"
    assert first.closed and not client.connected

    client.poll()  # within the backoff: no new connection (NET would raise)
    clock.now += 999
    client.poll()
    second = Conn(b"\x20\x02\x00\x05")
    NET.expect(second)
    clock.now += 1
    client.poll()
    assert second.closed and NET.idle()
    assert len(states) == 1  # the same failure again is not told again

    third = Conn(CONNACK_OK)
    NET.expect(third)
    clock.now += 1999  # the second wait is twice the first
    client.poll()
    assert not NET.idle()
    clock.now += 1
    client.poll()
    assert NET.idle() and client.connected
    assert states[1:] == [(True, "connected to broker.local:1883")]
    client.close()


def test_a_broker_that_never_answers_connect_times_out():
    client, _, states = start()
    conn = Conn(STALL)
    NET.expect(conn)
    try:
        client.poll()
    except Hang:
        raise AssertionError("umqtt waited for the CONNACK without a timeout")
    assert conn.timeouts == [5]
    assert states == [(False, "cannot connect to broker.local:1883 (no answer within 5 s)")]
    assert client.last_error.kind == "network"
    assert conn.closed


def test_a_broker_that_goes_silent_mid_packet_times_out():
    client, _, states = start()
    conn = Conn(CONNACK_OK, b"\x30", STALL)  # a PUBLISH starts, then nothing
    NET.expect(conn)
    try:
        client.poll()
    except Hang:
        raise AssertionError("umqtt read the rest of a packet without a timeout")
    assert conn.timeouts[-1] == 5
    assert states == [(True, "connected to broker.local:1883"), (False, "the connection to broker.local:1883 was lost (no answer within 5 s)")]
    assert client.last_error.kind == "timeout"
    assert conn.closed and not client.connected
    raises_closed(client)


def raises_closed(client):
    try:
        client.publish("a/b", "1")
    except mqtt.TransportError as e:
        assert e.kind == "closed"
        return
    raise AssertionError("publish while down did not raise")


def test_a_reset_is_told_once_and_the_link_comes_back_with_its_subscriptions():
    client, clock, states = start()
    client.subscribe("evcc/site/#")
    first = Conn(CONNACK_OK, suback(1))
    NET.expect(first)
    client.poll()
    assert states == [(True, "connected to broker.local:1883")]
    first.steps.append(EOF_)  # the broker closes the connection: recv returns b""
    client.poll()
    assert states[1:] == [(False, "the connection to broker.local:1883 was lost (the broker closed the connection)")]
    assert client.last_error.kind == "reset" and first.closed
    client.poll()
    clock.now += 500
    client.poll()
    assert len(states) == 2  # told once

    second = Conn(CONNACK_OK, suback(2), publish_packet("evcc/site/pvPower", b"4210"))
    NET.expect(second)
    clock.now += 500  # one second after the loss
    assert client.poll() == [("evcc/site/pvPower", b"4210")]
    sent = second.take_sent()
    assert sent == connect_packet("sunshift-test", 0x02, 30) + subscribe_packet(2, "evcc/site/#")
    assert states[2:] == [(True, "connected to broker.local:1883")]
    second.steps.append(errno.ECONNRESET)
    client.poll()
    assert states[3:] == [(False, "the connection to broker.local:1883 was lost (errno %d)" % errno.ECONNRESET)]
    assert second.closed

    third = Conn(CONNACK_OK, suback(3))
    NET.expect(third)
    clock.now += 1000  # back up again after the shortest wait: the link had recovered
    client.poll()
    assert NET.idle() and client.connected
    assert len(states) == 5
    client.close()


def test_a_message_too_large_for_a_board_is_read_in_pieces_and_dropped():
    client, _, _ = start()
    client.subscribe("evcc/#")
    forecast = b"[" + b'{"start": "2026-12-05T01:00:00+01:00", "end": "2026-12-05T01:15:00+01:00", "value": 0.2437},' * 190 + b"{}]"
    assert len(forecast) > mqtt.MAX_PAYLOAD
    big = publish_packet("evcc/site/forecast/grid", forecast, retain=True)
    # The forecast arrives in many reads, between two small values.
    pieces = [big[k : k + 700] for k in range(0, len(big), 700)]
    conn = Conn(CONNACK_OK, suback(1), publish_packet("evcc/site/pvPower", b"4210"), *pieces)
    conn.steps.append(publish_packet("evcc/site/gridPower", b"-800"))
    NET.expect(conn)
    messages = client.poll()
    # The small values around it come through; the forecast is not handed on (an
    # empty payload would clear a value), and the client says how large it was.
    assert messages == [("evcc/site/pvPower", b"4210"), ("evcc/site/gridPower", b"-800")]
    assert client.dropped == {"evcc/site/forecast/grid": len(forecast)} and not client.said_dropped
    assert client.connected and conn.finished()
    client.close()
