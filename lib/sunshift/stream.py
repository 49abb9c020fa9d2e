"""Bodies read as they arrive: what an HTTP answer's body is to the rest of sunshift.

A body has ``readinto(buffer)`` (the bytes read into it, 0 at the end) and
``close()``: the HTTP backends' sessions hand one out from ``open()``, and
jsonpick reads JSON from one through a small buffer, so a board never holds a
device's answer whole.  This module has the helpers around that shape.
"""

from .errors import TransportError


class Bytes:
    """A body already in memory, read like one that arrives."""

    def __init__(self, data):
        self.data = data
        self.at = 0

    def readinto(self, buf):
        """Copy the next bytes into ``buf``; 0 at the end."""
        piece = self.data[self.at : self.at + len(buf)]
        buf[: len(piece)] = piece
        self.at += len(piece)
        return len(piece)

    def close(self):
        """Nothing to release."""


def read_all(body, limit):
    """The bytes of ``body`` up to ``limit + 1`` of them (one more than ``limit``
    says there was more), as bytes whatever the body hands out."""
    out = bytearray()
    piece = bytearray(min(512, limit + 1))
    view = memoryview(piece)
    while len(out) <= limit:
        got = body.readinto(view[: min(len(piece), limit + 1 - len(out))])
        if not got:
            break
        out.extend(view[:got])
    return bytes(out)


def read_whole(body, limit):
    """All of ``body``, then closed; TransportError when it has more than ``limit`` bytes.
    What a backend's ``request()`` is, after its ``open()``."""
    try:
        data = read_all(body, limit)
        if len(data) > limit:
            raise TransportError("protocol", "the answer is larger than %d bytes" % limit)
        return data
    finally:
        body.close()
