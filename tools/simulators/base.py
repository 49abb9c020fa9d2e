"""What every device simulator shares: a real HTTP server on loopback that can be
told to fail the ways real devices do.

A simulator subclasses ``Simulator`` and implements ``handle(request)`` to return
(status, content type, body bytes), or (status, content type, body, headers) when
the answer needs more headers (a dict, name -> value; content type None leaves
that header out, as for a 204).  Tests then call ``fail(mode)`` / ``heal()``:

    timeout       accept, then never answer (until healed)
    reset         accept, then close without a word
    refuse        stop listening: connections are refused
    http500       HTTP 500 with an HTML error page
    http503       HTTP 503, as a device that is busy or booting
    html          HTTP 200 with an HTML page instead of JSON
    truncated     the real answer cut in half (with a matching Content-Length)
    non_utf8      the real answer with a byte that is not UTF-8 in a text
    wrong_type    the real answer with every number turned into text
    unauthorized  HTTP 401 with the device's own error body
    trickle       the status line, then the rest of the answer one byte every
                  TRICKLE seconds (until healed)
    trickle_body  the headers at once, then the body one byte every TRICKLE seconds
    endless       a chunked answer that never ends: `[0,0,0,...` as fast as it goes

``fail(mode, path="/prefix")`` limits a fault to paths starting with the prefix.
The certificate in this folder is for tests only (CN envoy.local, 127.0.0.1).
"""

import json
import os
import re
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
CERT = os.path.join(HERE, "selfsigned.crt")
KEY = os.path.join(HERE, "selfsigned.key")

FAULTS = ("timeout", "reset", "refuse", "http500", "http503", "html", "truncated", "non_utf8", "wrong_type", "unauthorized")
FAULTS += ("trickle", "trickle_body", "endless")
# Seconds between two bytes of a trickling answer.
TRICKLE = 0.2
ERROR_PAGE = b"<html><head><title>500 Internal Server Error</title></head><body><h1>500 Internal Server Error</h1></body></html>"
BUSY_PAGE = b"<html><head><title>503 Service Unavailable</title></head><body><h1>503 Service Unavailable</h1></body></html>"
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Login</title></head><body><form action='/login'>Password</form></body></html>"


class Request:
    """One request as a simulator sees it."""

    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        path, _, query = target.partition("?")
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.at = time.monotonic()  # when it came

    def bearer(self):
        """The bearer token sent, or None."""
        value = self.headers.get("authorization", "")
        return value[7:] if value.startswith("Bearer ") else None

    def json(self):
        """The body as JSON (None if it is not)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeError):
            return None


def numbers_to_text(body):
    """A JSON body with every number turned into a string: a 'wrong types' answer."""
    return re.sub(rb"(?<=[:\[,])\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?=\s*[,}\]])", rb'"\1"', body)


class Simulator:
    """A device on 127.0.0.1 over HTTP (or HTTPS with ``tls=True``)."""

    name = "device"

    def __init__(self, port=0, tls=False):
        self.tls = tls
        self.port = port
        self.server = None
        self.thread = None
        self.fault = None
        self.fault_path = ""
        self.healed = threading.Event()
        self.requests = []
        self.connections = set()
        self.lock = threading.Lock()
        self.mqtt = None  # a DeviceMqtt once start_mqtt() ran
        self.interval = 1.0
        self.publishing = threading.Event()

    # --- life cycle ----------------------------------------------------------

    @property
    def url(self):
        """Base URL of the running simulator."""
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def start(self):
        """Start serving in a background thread; returns self."""
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the devices do

            def log_message(self, *args):
                pass

            def setup(self):
                BaseHTTPRequestHandler.setup(self)
                # Headers and body go out in two writes; without this the body
                # waits for the client's delayed ACK (40 ms a request on Linux).
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with sim.lock:
                    sim.connections.add(self.connection)

            def finish(self):
                with sim.lock:
                    sim.connections.discard(self.connection)
                BaseHTTPRequestHandler.finish(self)

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Request(self.command, self.path, headers, body)
                sim.serve(self, request)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(CERT, KEY)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def start_mqtt(self, broker, client_id, status_topic, subscriptions, interval):
        """Connect to ``broker`` (host, port) with a last will, and call
        publish_state() every ``interval`` seconds until stop()."""
        self.interval = interval
        self.mqtt = DeviceMqtt(broker[0], broker[1], client_id, status_topic, subscriptions, self.on_mqtt)
        self.publishing.set()
        threading.Thread(target=self._publish_loop, daemon=True).start()

    def _publish_loop(self):
        while self.publishing.is_set():
            self.publish_state()
            time.sleep(self.interval)

    def publish_state(self):
        """Publish the device's state once (simulators with MQTT override this)."""

    def on_mqtt(self, topic, payload):
        """A message on a subscribed topic (simulators with MQTT override this)."""

    def stop(self, clean=True):
        """Stop serving and free the port; ``clean=False`` drops the MQTT link so
        the broker publishes the last will, as when a device loses power."""
        self.publishing.clear()
        if self.mqtt is not None:
            self.mqtt.close(clean)
            self.mqtt = None
        self.healed.set()
        self._stop_http()

    def _stop_http(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        # Kept-alive connections die with the device, as they would.
        with self.lock:
            for connection in list(self.connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- faults --------------------------------------------------------------

    def fail(self, mode, path=""):
        """Fail the way ``mode`` says (see the module docstring) until heal()."""
        if mode not in FAULTS:
            raise ValueError("unknown fault %r; one of %s" % (mode, ", ".join(FAULTS)))
        self.heal()
        self.healed.clear()
        self.fault = mode
        self.fault_path = path
        if mode == "refuse":
            self._stop_http()

    def heal(self):
        """Answer normally again."""
        was = self.fault
        self.fault = None
        self.healed.set()
        if was == "refuse":
            Simulator.start(self)

    # --- serving -------------------------------------------------------------

    def serve(self, handler, request):
        """Answer one request, applying the current fault."""
        with self.lock:
            self.requests.append(request)
        fault = self.fault if request.path.startswith(self.fault_path) else None
        if fault == "timeout":
            self.healed.wait(60)
            handler.close_connection = True
            return
        if fault == "reset":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "http500":
            return self.send(handler, 500, "text/html", ERROR_PAGE)
        if fault == "http503":
            return self.send(handler, 503, "text/html", BUSY_PAGE)
        if fault == "html":
            return self.send(handler, 200, "text/html", LOGIN_PAGE)
        if fault == "unauthorized":
            return self.send(handler, *self.unauthorized(request))
        answer = self.handle(request)
        status, kind, body = answer[:3]
        headers = answer[3] if len(answer) > 3 else None
        if fault == "endless":
            return self._endless(handler)
        if fault in ("trickle", "trickle_body"):
            return self._trickle(handler, status, kind, body, fault == "trickle")
        if fault == "truncated":
            body = body[: max(1, len(body) // 2)]
        elif fault == "non_utf8":
            body = body.replace(b'"', b'"\xff\xfe', 1) if b'"' in body else b"\xff" + body
        elif fault == "wrong_type":
            body = numbers_to_text(body)
        return self.send(handler, status, kind, body, headers)

    def send(self, handler, status, kind, body, headers=None):
        """Write an answer with a Content-Length (so keep-alive works), the
        Content-Type unless ``kind`` is None, and any extra ``headers`` (a dict)."""
        try:
            handler.send_response(status)
            if kind is not None:
                handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                handler.send_header(name, str(value))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass  # the client went away; so do we

    def _trickle(self, handler, status, kind, body, headers_too):
        """The answer a byte at a time (the headers too, or only the body) until healed."""
        head = b"HTTP/1.1 %d OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (status, kind.encode(), len(body))
        handler.close_connection = True
        try:
            if headers_too:
                first = head.index(b"\r\n") + 2
                handler.wfile.write(head[:first])
                data = head[first:] + body
            else:
                handler.wfile.write(head)
                data = body
            for k in range(len(data)):
                if self.healed.wait(TRICKLE):
                    return
                handler.wfile.write(data[k : k + 1])
                handler.wfile.flush()
        except OSError:
            pass  # the client gave up, as it should

    def _endless(self, handler):
        """A chunked answer that goes on until the client hangs up (or the fault heals)."""
        handler.close_connection = True
        chunk = b"%x\r\n%s\r\n" % (4096, b"0," * 2048)
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            handler.wfile.write(b"1\r\n[\r\n")
            while not self.healed.is_set():
                handler.wfile.write(chunk)
        except OSError:
            pass

    def handle(self, request):
        """(status, content type, body) for a request; simulators override this."""
        return 404, "application/json", b'{"error": "not found"}'

    def unauthorized(self, request):
        """The device's own 401 answer."""
        return 401, "application/json", b'{"error": "unauthorized"}'

    def wait_for(self, predicate, timeout=5.0):
        """Wait until ``predicate()`` is true (True) or ``timeout`` passes (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()


class DeviceMqtt:
    """A simulator's MQTT side: connects to a broker with a last will, publishes
    retained state, and calls ``on_message(topic, payload)`` for its subscriptions."""

    def __init__(self, host, port, client_id, status_topic, subscriptions, on_message):
        import paho.mqtt.client as paho

        self.status_topic = status_topic
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.will_set(status_topic, "offline", qos=1, retain=True)
        # Each value is a small publish of its own: send them without Nagle's wait.
        self.client.on_socket_open = lambda client, userdata, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connected = threading.Event()

        pending = set()

        def connected(client, userdata, flags, reason, properties):
            client.publish(status_topic, "online", qos=1, retain=True)
            pending.clear()
            for topic in subscriptions:
                pending.add(client.subscribe(topic, qos=1)[1])
            if not pending:
                self.connected.set()

        def subscribed(client, userdata, mid, reasons, properties):
            # Ready only once the broker has every subscription: a message
            # published before that would be lost, and a test would flake.
            pending.discard(mid)
            if not pending:
                self.connected.set()

        def disconnected(client, userdata, flags, reason, properties):
            self.connected.clear()

        self.client.on_connect = connected
        self.client.on_subscribe = subscribed
        self.client.on_disconnect = disconnected
        self.client.on_message = lambda client, userdata, m: on_message(m.topic, m.payload)
        self.client.reconnect_delay_set(0.1, 1)
        self.client.connect_async(host, port, keepalive=10)
        self.client.loop_start()

    def publish(self, topic, payload, retain=True):
        """Publish (QoS 1) if connected; dropped while the broker is away (then False)."""
        if self.connected.is_set():
            self.client.publish(topic, payload, qos=1, retain=retain)
            return True
        return False

    def close(self, clean=True):
        """Disconnect; ``clean=False`` drops the socket so the broker sends the last will."""
        if clean:
            self.client.publish(self.status_topic, "offline", qos=1, retain=True)
            self.client.disconnect()
        else:
            self.client.socket().close()
        self.client.loop_stop()


def serve_forever(sim, banner):
    """Run a simulator from the command line until Ctrl-C."""
    sim.start()
    print(banner % sim.url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


def broker_address(text):
    """(host, port) from "HOST[:PORT]", or None."""
    if not text:
        return None
    host, _, port = text.partition(":")
    return host, int(port or 1883)
