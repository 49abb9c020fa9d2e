"""http.Session, sunshift's HTTP client for boards, over scripted sockets that
replay HTTP exchanges byte for byte (MicroPython only), on a scripted clock so a
device that trickles its answer takes its time without the test doing so."""

import errno
import sys

import wire
from wire import EOF_, NET, STALL, TLS, Conn, http_request, trickle

from sunshift.errors import TransportError
from sunshift.net import http

http.clock = wire.clock
ENVOY_JSON = b'{"production": [{"type": "inverters", "wNow": 2466}], "consumption": []}'


def call(url, method="GET", headers=None, body=None, timeout=5):
    return http.Session().request(method, url, headers, body, timeout)


def failure(url, method="GET"):
    """The TransportError a call raises."""
    try:
        call(url, method)
    except TransportError as e:
        return e
    raise AssertionError("no TransportError")


def test_the_backend_needs_no_requests():
    assert http.AVAILABLE
    NET.expect(Conn(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n[]"))
    assert call("http://192.168.1.30/api")[2] == b"[]"
    assert "requests" not in sys.modules


def test_a_get_whose_answer_arrives_in_many_pieces():
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(ENVOY_JSON) + ENVOY_JSON
    pieces = [answer[:5], answer[5:17], answer[17:40], answer[40:41], answer[41:90], answer[90:130], answer[130:]]
    conn = Conn(*pieces)  # the status line, headers and body split anywhere; the device keeps the line open
    NET.expect(conn)
    status, headers, body = call("http://192.168.1.30/production.json?details=1")
    assert (status, body) == (200, ENVOY_JSON)
    assert headers == {"content-type": "application/json", "content-length": str(len(ENVOY_JSON)), "connection": "close"}
    line, sent_headers, sent_body = http_request(conn.sent)
    assert line == "GET /production.json?details=1 HTTP/1.0"
    assert sent_headers == {"Host": "192.168.1.30"}
    assert sent_body == b""
    assert NET.lookups[-1] == ("192.168.1.30", 80) and conn.address == ("192.168.1.30", 80)
    # every wait has what is left of the request's 5 s, and no time passed here
    assert conn.timeouts and set(conn.timeouts) == {5}
    assert conn.finished() and conn.closed


def test_a_body_without_length_is_read_to_the_end_of_the_stream():
    conn = Conn(b"HTTP/1.0 200 OK\r\nServer: EMS-ESP\r\n\r\n", b'{"seltemp":', b" 55}", EOF_)
    NET.expect(conn)
    assert call("http://ems-esp.local/api/boiler/dhw/seltemp") == (200, {"server": "EMS-ESP"}, b'{"seltemp": 55}')
    assert conn.closed


def test_a_post_sends_its_headers_and_body():
    headers = {"Content-Type": "application/json", "Authorization": "Bearer 3f9a"}
    conn = Conn(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", b'{"result": "pv"}\r\n\r\n')
    NET.expect(conn)
    status, _, body = call("http://evcc.local:7070/api/loadpoints/1/mode/pv", "POST", headers, b'{"mode": "pv"}')
    assert (status, body) == (200, b'{"result": "pv"}\r\n\r\n')
    line, sent_headers, sent_body = http_request(conn.sent)
    assert line == "POST /api/loadpoints/1/mode/pv HTTP/1.0"
    assert sent_headers == {
        "Host": "evcc.local:7070",
        "Content-Type": "application/json",
        "Authorization": "Bearer 3f9a",
        "Content-Length": "14",
    }
    assert sent_body == b'{"mode": "pv"}'
    assert conn.address == ("evcc.local", 7070)
    assert headers == {"Content-Type": "application/json", "Authorization": "Bearer 3f9a"}  # the caller's dict is untouched


def test_401_and_503_come_back_as_answers_with_their_html():
    page = b"<html><body><h1>401 Unauthorized</h1></body></html>"
    NET.expect(Conn(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Type: text/html\r\n\r\n" + page, EOF_))
    status, headers, body = call("https://envoy.local/ivp/meters/readings")
    assert (status, body) == (401, page)
    assert headers["www-authenticate"] == "Bearer"
    page = b"<html><head><title>503 Service Unavailable</title></head><body>busy</body></html>"
    NET.expect(Conn(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Length: %d\r\n\r\n" % len(page), page))
    status, headers, body = call("http://192.168.1.30/production.json")
    assert (status, headers["retry-after"], body) == (503, "30", page)


def test_https_goes_through_tls_with_the_host_name():
    conn = Conn(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
    NET.expect(conn)
    assert call("https://envoy.local/ivp/meters/readings", headers={"Authorization": "Bearer jwt"})[2] == b"[]"
    stream = TLS.streams[-1]
    assert stream.conn is conn and stream.server_hostname == "envoy.local"
    # the certificate is not checked (an Envoy's is self-signed): insecure changes nothing
    assert stream.verify_mode == TLS.CERT_NONE
    assert NET.lookups[-1] == ("envoy.local", 443)
    assert http_request(stream.sent)[0] == "GET /ivp/meters/readings HTTP/1.0"
    assert http_request(stream.sent)[1]["Authorization"] == "Bearer jwt"
    assert conn.closed


def test_a_silent_device_is_a_timeout():
    conn = Conn(b"HTTP/1.1 200 OK\r\n", STALL)
    NET.expect(conn)
    e = failure("http://192.168.1.30/production.json")
    assert (e.kind, str(e)) == ("timeout", "no answer within 5 s")
    assert conn.closed
    # the unix and WebAssembly ports say EAGAIN where an ESP32 says ETIMEDOUT
    conn = Conn(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", b"12345", errno.EAGAIN)
    NET.expect(conn)
    assert failure("http://192.168.1.30/production.json").kind == "timeout"
    assert conn.closed


def test_a_reset_mid_body():
    conn = Conn(b"HTTP/1.1 200 OK\r\nContent-Length: 70\r\n\r\n", ENVOY_JSON[:30], errno.ECONNRESET)
    NET.expect(conn)
    e = failure("http://192.168.1.30/production.json")
    assert e.kind == "reset"
    assert conn.closed
    # closed cleanly before Content-Length is reached: not a truncated document
    conn = Conn(b"HTTP/1.1 200 OK\r\nContent-Length: 70\r\n\r\n", ENVOY_JSON[:30], EOF_)
    NET.expect(conn)
    e = failure("http://192.168.1.30/production.json")
    assert (e.kind, str(e)) == ("reset", "the connection was closed after 30 of 70 bytes")
    assert conn.closed


def test_a_body_larger_than_max_body():
    limit = http.MAX_BODY
    conn = Conn(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (limit + 1), b"x" * 100)
    NET.expect(conn)
    e = failure("http://192.168.1.30/production.json")
    assert e.kind == "protocol" and "larger than %d bytes" % limit in str(e)
    assert conn.closed
    conn = Conn(b"HTTP/1.0 200 OK\r\n\r\n", *([b"y" * 4096] * 9))  # 36 KiB, no length, never closed
    NET.expect(conn)
    e = failure("http://192.168.1.30/production.json")
    assert e.kind == "protocol" and "larger than %d bytes" % limit in str(e)
    assert conn.closed


def test_a_chunked_answer_is_refused_and_the_connection_closed():
    # Asked in HTTP/1.0, a device must not answer chunked; one that does gets a
    # clear protocol error, not a garbled body.
    conn = Conn(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"4\r\nabcd\r\n0\r\n\r\n")
    NET.expect(conn)
    e = failure("http://192.168.1.30/production.json")
    assert e.kind == "protocol" and "chunked" in str(e)
    assert conn.closed


def trickled(*steps, timeout=5):
    """The error of a GET whose answer comes as ``steps``, and the scripted seconds it took."""
    conn = Conn(*steps)
    NET.expect(conn)
    start = wire.NOW[0]
    try:
        call("http://192.168.1.30/production.json", timeout=timeout)
    except TransportError as e:
        assert conn.closed
        return e, (wire.NOW[0] - start) / 1000
    raise AssertionError("no TransportError")


def test_a_device_that_trickles_its_answer_costs_its_timeout_and_no_more():
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(ENVOY_JSON) + ENVOY_JSON
    # each byte within the timeout: a timeout per read would never end it
    e, took = trickled(*trickle(answer, 1000))
    assert (e.kind, str(e)) == ("timeout", "no answer within 5 s") and took <= 5, took
    # the headers at once, then the body a byte a second
    first = answer.index(b"\r\n\r\n") + 4
    e, took = trickled(answer[:first], *trickle(ENVOY_JSON, 1000))
    assert e.kind == "timeout" and 4 <= took <= 5, took
    # the whole answer but slowly enough: the last read has only what is left
    e, took = trickled(*trickle(answer[:10], 450), timeout=3)
    assert e.kind == "timeout" and took <= 3, took


def test_an_answer_without_end_is_cut_at_the_stream_limit():
    conn = Conn(b"HTTP/1.0 200 OK\r\n\r\n", *([b"0," * 2048] * (http.MAX_STREAM // 4096 + 2)))
    NET.expect(conn)
    _, _, body = http.Session().open("GET", "http://192.168.1.30/api/state", None, None, 5)
    buf = bytearray(512)
    try:
        while body.readinto(buf):
            pass
        raise AssertionError("read to an end")
    except TransportError as e:
        assert e.kind == "protocol" and "larger than %d bytes" % http.MAX_STREAM in str(e)
    body.close()
    assert conn.closed


def test_a_broken_status_line_and_headers_without_end():
    NET.expect(Conn(b"<html>hello</html>\r\n\r\n", EOF_))
    e = failure("http://192.168.1.30/production.json")
    assert (e.kind, str(e)) == ("protocol", "a broken HTTP answer (no status line)")
    NET.expect(Conn(b"HTTP/1.1 200 OK\r\n", *([b"X-Filler: " + b"x" * 500 + b"\r\n"] * 10)))
    e = failure("http://192.168.1.30/production.json")
    assert e.kind == "protocol" and "headers are longer than" in str(e)
    NET.expect(Conn(b"HTTP/1.1 200 OK\r\nContent-Length: 2", EOF_))
    e = failure("http://192.168.1.30/production.json")
    assert (e.kind, str(e)) == ("reset", "the connection was closed before the end of the headers")


def test_a_refused_connection():
    NET.expect(Conn(refuse=True))
    e = failure("http://192.168.1.30/production.json")
    assert (e.kind, str(e)) == ("refused", "connection refused")
    assert NET.idle()


def test_an_envoy_is_read_through_the_board_backend():
    # The whole path a board takes: the adapter, WebApi, this backend, the socket;
    # the report is read as it arrives.
    from replay import ReplaySession
    from simulators import corpus

    from sunshift.devices import envoy

    variant = "7.6.175_with_cts"
    replayed = ReplaySession(variant, token="jwt")
    expected = envoy.Envoy("envoy", "https://envoy.local", "jwt", session=replayed).poll()
    for _, path in replayed.requests:
        status, kind, data = corpus.answer(variant, path, (), "production.json")
        head = b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (status, kind.encode(), len(data))
        NET.expect(Conn(head, data[: len(data) // 2], data[len(data) // 2 :], EOF_))
    reader = envoy.Envoy("envoy", "https://envoy.local", "jwt")
    assert reader.api.session.__class__ is http.Session
    assert reader.poll() == expected and expected["envoy.production"] > 0
    assert NET.idle()
