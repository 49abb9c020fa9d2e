"""What both MQTT backends keep about their connection: state, backoff, and the
state changes told to the caller once per episode, after each poll.

State changes are queued and told at the end of poll(), never from inside a
library callback: a caller that publishes on "connected" would otherwise
re-enter the library's packet reader (paho hangs on that).
"""

from ..errors import TransportError
from ..port import ticks_ms
from .backoff import Backoff


class Link:
    """Connection state shared by cpython/mqtt.Client and net/mqtt.Client."""

    # Whether the site has said which messages were too large to keep (the
    # board's client keeps them in ``dropped``: net/mqtt's MAX_PAYLOAD).
    said_dropped = True

    def __init__(self, host, port, keepalive, timeout, on_state):
        self.host = host
        self.port = port
        self.keepalive = keepalive
        self.timeout = timeout
        self.on_state = on_state
        self.topics = []  # subscribed again after every reconnect
        self.inbox = []  # (topic, payload) received since the last poll
        # deliver(topic, payload), when set, takes each message as it arrives
        # instead of the inbox: a board then never holds a burst of retained
        # messages (hundreds at a subscribe) all at once.
        self.deliver = None
        self.connected = False  # the broker accepted us
        self.open = False  # a socket is open (maybe not yet accepted)
        self.backoff = Backoff(1, 60)
        self.last_error = None
        self.last_kind = None
        self.events = []

    def where(self):
        """'host:port' of the broker."""
        return "%s:%d" % (self.host, self.port)

    def note_up(self):
        """The broker accepted the connection."""
        self.connected = True
        self.open = True
        self.backoff.succeeded()
        self.events.append((True, "connected to " + self.where()))

    def note_down(self, text, kind):
        """The connection failed or was lost: wait before the next attempt; tell it
        once per episode (a new kind of failure, or a loss after being up)."""
        was_up = self.connected
        self.connected = False
        self.open = False
        self.backoff.failed(ticks_ms())
        self.last_error = TransportError(kind, text)
        if was_up or kind != self.last_kind:
            self.events.append((False, text))
        self.last_kind = kind

    def arrived(self, topic, payload):
        """A message arrived: to ``deliver`` if set, else into the inbox."""
        if self.deliver is not None:
            self.deliver(topic, payload)
        else:
            self.inbox.append((topic, payload))

    def not_connected(self):
        """The error a publish raises while there is no connection."""
        return TransportError("closed", "not connected to the MQTT broker at " + self.where())

    def take(self):
        """Tell the queued state changes, then hand over what arrived."""
        while self.events:
            up, text = self.events.pop(0)
            if self.on_state:
                self.on_state(up, text)
        messages = self.inbox
        self.inbox = []
        return messages
