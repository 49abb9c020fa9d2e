"""A device's text in the log: never a line of its own, never a terminal code,
never megabytes.  The real Runner and its log against a fake evcc on loopback
(REST) and a real broker (MQTT) that answer 3 MB texts, 3 MB error pages and
texts that would forge a log line ("\\n2026-01-01 ..." and ESC colour codes)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.publish as publish
import pytest

from sunshift import port
from sunshift.site import config
from sunshift.site.runner import Runner

BIG = "Envoy of the Smith family " + "x" * (3 * 1024 * 1024 - 26)  # 3 MB of one text
FORGED = "no\n2026-01-01 fake log line\x1b[31m"
# The bound the test holds every log line to; clipped texts keep lines near 300.
LINE_BOUND = 400

RULES = """
rule charge
  when evcc.site.pvPower > 1000
  then evcc.loadpoints.1.mode = pv
  else evcc.loadpoints.1.mode = off
"""


class FakeEvcc:
    """An HTTP server on 127.0.0.1: ``answers`` maps a path prefix to (status, content type, body)."""

    def __init__(self, answers):
        self.answers = answers
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                fake.requests.append((self.command, self.path))
                status, kind, body = next(fake.answers[p] for p in fake.answers if self.path.startswith(p))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    self.close_connection = True  # the client stopped reading a long answer: fine

            do_GET = do_POST = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def state(pv_power):
    """evcc's GET /api/state with a long site title and ``pv_power``."""
    return 200, "application/json", json.dumps({"siteTitle": "Home", "pvPower": pv_power, "loadpoints": [{"mode": "pv", "connected": True}]}).encode()


def run_site(tmp_path, device, until, seconds=5, mqtt=None):
    """The Runner on a site of one evcc (``device``, its config entry) with RULES,
    turned until ``until(lines)``; its log lines."""
    (tmp_path / "site.rules").write_text(RULES)
    site = {"rules": str(tmp_path / "site.rules"), "devices": {"evcc": device}}
    if mqtt is not None:
        site["mqtt"] = mqtt
    (tmp_path / "site.json").write_text(json.dumps(site))
    lines = []
    runner = Runner(config.load(str(tmp_path / "site.json")), port.Log(sink=lines.append))
    try:
        end = time.monotonic() + seconds
        while not until(lines):
            assert time.monotonic() < end, "not within %d s; log:\n%s" % (seconds, "\n".join(line[:300] for line in lines[-10:]))
            runner.step(time.monotonic(), None)
            time.sleep(0.02)
    finally:
        runner.close()
    return lines


def assert_bounded(lines):
    """Every line short, with no control character (C0, DEL, C1) nor line separator."""
    for line in lines:
        assert len(line) <= LINE_BOUND, "a log line of %d characters: %s…" % (len(line), line[:200])
        for c in line:
            o = ord(c)
            assert not (o < 32 or 127 <= o < 160 or o == 0x2028 or o == 0x2029), "a control character %r in %r" % (c, line[:300])


def said(lines, *parts):
    """True once a line has all of ``parts``."""
    return any(all(p in line for p in parts) for line in lines)


@pytest.fixture
def fake():
    servers = []

    def make(answers):
        servers.append(FakeEvcc(answers))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


def rest(server):
    return {"type": "evcc", "url": server.url, "poll": 0.1, "timeout": 2, "stale_after": 5}


def test_a_text_where_a_number_belongs_and_a_refusal_in_evccs_words(tmp_path, fake):
    # pvPower is a text that forges a line; the write of the safe branch is refused with another.
    long_text = FORGED + "x" * 3000
    evcc = fake({"/api/state": state(long_text), "/api/": (400, "application/json", json.dumps({"error": FORGED + "e" * 3000}).encode())})
    lines = run_site(tmp_path, rest(evcc), lambda lines: said(lines, "could not set", "evcc refused"))
    assert_bounded(lines)
    assert said(lines, 'evcc.site.pvPower is "no\\n2026-01-01 fake log line\\x1b[31mxxx', '…" (%d characters), not a number' % len(long_text))
    assert said(lines, "evcc refused evcc.loadpoints.1.mode = off: no\\n2026-01-01 fake log line\\x1b[31meee", "… (3032 characters)")


def test_a_3_mb_html_error_page_and_a_text_body_that_forges_a_line(tmp_path, fake):
    page = ("<html><body><h1>500</h1>" + BIG + "</body></html>").encode()
    evcc = fake({"/api/state": (500, "text/html", page)})
    lines = run_site(tmp_path, rest(evcc), lambda lines: said(lines, "WARN evcc", "HTTP 500"))
    assert_bounded(lines)
    evcc.answers = {"/api/state": (418, "text/plain", (FORGED + BIG).encode())}
    lines = run_site(tmp_path, rest(evcc), lambda lines: said(lines, "WARN evcc", "HTTP 418"))
    assert_bounded(lines)
    assert said(lines, "unexpected HTTP 418: the text 'no\\n2026-01-01 fake log line\\x1b[31mEnvoy of the Smith", "…'")


def test_a_3_mb_text_where_a_number_belongs(tmp_path, fake):
    evcc = fake({"/api/state": state(BIG), "/api/": (200, "application/json", b'"off"')})
    lines = run_site(tmp_path, rest(evcc), lambda lines: said(lines, "WARN evcc"))
    assert_bounded(lines)
    assert said(lines, "bad answer: a text longer than 4096 bytes")  # jsonpick keeps no text that long


def test_a_3_mb_mqtt_payload_where_a_number_belongs(tmp_path, broker):
    topic = "hostile-%d" % id(tmp_path)
    publish.single(topic + "/site/pvPower", BIG, retain=True, hostname="127.0.0.1", port=broker.port)
    try:
        device = {"type": "evcc", "transport": "mqtt", "topic": topic, "timeout": 1, "stale_after": 5}
        mqtt = {"host": "127.0.0.1", "port": broker.port, "client_id": topic}
        lines = run_site(tmp_path, device, lambda lines: said(lines, "INFO evcc.loadpoints.1.mode: set", "not a number"), 10, mqtt)
    finally:
        publish.single(topic + "/site/pvPower", "", retain=True, hostname="127.0.0.1", port=broker.port)
    assert_bounded(lines)
    assert said(lines, 'evcc.site.pvPower is "Envoy of the Smith family xxx', '…" (3145728 characters), not a number')
