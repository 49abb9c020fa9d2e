"""http.Session on micropython-lib's requests, over scripted sockets that
replay HTTP exchanges byte for byte (MicroPython only); every test runs on
both versions of requests that boards have (wire.REQUESTS)."""

import errno

from wire import EOF_, NET, REQUESTS, STALL, TLS, Conn, http_request, use_requests

from sunshift.errors import TransportError

ENVOY_JSON = b'{"production": [{"type": "inverters", "wNow": 2466}], "consumption": []}'
http = None  # the backend, loaded on the version of requests a test runs on
PROTOCOL = None  # the HTTP version that requests speaks


def both(test):
    """Run ``test`` on requests 0.10 and on 1.1."""

    def run():
        global http, PROTOCOL
        for version in sorted(REQUESTS):
            http = use_requests(version)
            PROTOCOL = "HTTP/1.0" if version == "0.10" else "HTTP/1.1"
            test()

    return run


def call(url, method="GET", headers=None, body=None, timeout=5):
    return http.Session().request(method, url, headers, body, timeout)


def failure(url, method="GET"):
    """The TransportError a call raises."""
    try:
        call(url, method)
    except TransportError as e:
        return e
    raise AssertionError("no TransportError")


@both
def test_the_backend_runs_on_the_real_requests():
    assert http.AVAILABLE
    assert http.requests.__file__.endswith("/requests/__init__.py") and "vendor/micropython-lib" in http.requests.__file__


@both
def test_a_get_whose_answer_arrives_in_many_pieces():
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(ENVOY_JSON) + ENVOY_JSON
    pieces = [answer[:5], answer[5:17], answer[17:40], answer[40:41], answer[41:90], answer[90:130], answer[130:]]
    conn = Conn(*pieces)  # the status line, headers and body split anywhere; the device keeps the line open
    NET.expect(conn)
    status, headers, body = call("http://192.168.1.30/production.json?details=1")
    assert (status, body) == (200, ENVOY_JSON)
    assert headers == {"content-type": "application/json", "content-length": str(len(ENVOY_JSON)), "connection": "close"}
    line, sent_headers, sent_body = http_request(conn.sent)
    assert line == "GET /production.json?details=1 " + PROTOCOL
    assert sent_headers == {"Host": "192.168.1.30", "Connection": "close"}
    assert sent_body == b""
    assert NET.lookups[-1] == ("192.168.1.30", 80) and conn.address == ("192.168.1.30", 80)
    assert conn.timeouts and set(conn.timeouts) == {5}
    assert conn.finished() and conn.closed


@both
def test_a_body_without_length_is_read_to_the_end_of_the_stream():
    conn = Conn(b"HTTP/1.0 200 OK\r\nServer: EMS-ESP\r\n\r\n", b'{"seltemp":', b" 55}", EOF_)
    NET.expect(conn)
    assert call("http://ems-esp.local/api/boiler/dhw/seltemp") == (200, {"server": "EMS-ESP"}, b'{"seltemp": 55}')
    assert conn.closed


@both
def test_a_post_sends_its_headers_and_body():
    headers = {"Content-Type": "application/json", "Authorization": "Bearer 3f9a"}
    conn = Conn(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", b'{"result": "pv"}\r\n\r\n')
    NET.expect(conn)
    status, _, body = call("http://evcc.local:7070/api/loadpoints/1/mode/pv", "POST", headers, b'{"mode": "pv"}')
    assert (status, body) == (200, b'{"result": "pv"}\r\n\r\n')
    line, sent_headers, sent_body = http_request(conn.sent)
    assert line == "POST /api/loadpoints/1/mode/pv " + PROTOCOL
    assert sent_headers == {
        "Content-Type": "application/json",
        "Authorization": "Bearer 3f9a",
        "Host": "evcc.local",  # requests leaves the port out
        "Content-Length": "14",
        "Connection": "close",
    }
    assert sent_body == b'{"mode": "pv"}'
    assert conn.address == ("evcc.local", 7070)
    assert headers == {"Content-Type": "application/json", "Authorization": "Bearer 3f9a"}  # the caller's dict is untouched


@both
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


@both
def test_https_goes_through_tls_with_the_host_name():
    conn = Conn(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]")
    NET.expect(conn)
    assert call("https://envoy.local/ivp/meters/readings", headers={"Authorization": "Bearer jwt"})[2] == b"[]"
    stream = TLS.streams[-1]
    assert stream.conn is conn and stream.server_hostname == "envoy.local"
    # requests never checks the certificate (an Envoy's is self-signed): insecure changes nothing
    assert stream.verify_mode == TLS.CERT_NONE
    assert NET.lookups[-1] == ("envoy.local", 443)
    assert http_request(stream.sent)[0] == "GET /ivp/meters/readings " + PROTOCOL
    assert http_request(stream.sent)[1]["Authorization"] == "Bearer jwt"
    assert conn.closed


@both
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


@both
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


@both
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


@both
def test_a_chunked_answer():
    conn = Conn(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"4\r\nabcd\r\n0\r\n\r\n")
    NET.expect(conn)
    if PROTOCOL == "HTTP/1.1":
        assert call("http://192.168.1.30/production.json")[2] == b"abcd"  # requests 1.1 decodes it
        assert conn.closed
        return
    # requests 0.10 asks in HTTP/1.0 and cannot decode chunked bodies; a device that
    # answers chunked anyway gets a clear protocol error, not a garbled body.
    e = failure("http://192.168.1.30/production.json")
    assert e.kind == "protocol" and "chunked" in str(e)
    # requests raises before it hands over the socket: nothing can close it but the GC
    assert not conn.closed


@both
def test_a_refused_connection():
    NET.expect(Conn(refuse=True))
    e = failure("http://192.168.1.30/production.json")
    assert (e.kind, str(e)) == ("refused", "connection refused")
    assert NET.idle()


@both
def test_an_envoy_is_read_through_the_board_backend():
    # The whole path a board takes: the adapter, WebApi, this backend, requests, the
    # socket. requests 1.1 reads into bytearrays; the adapter must see bytes (its
    # /info parser once failed on them), and the report is read as it arrives.
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
