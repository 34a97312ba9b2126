"""Bodies that are not simply written: held back, cut short, endless, or a gzip bomb.

A streamer runs after the status line and headers are sent and writes (or withholds) the body
itself; the server closes the connection when it returns. A client that disconnects ends it
quietly.
"""

from __future__ import annotations

import functools
import logging
import select
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from io import BufferedIOBase
from typing import Protocol

logger = logging.getLogger(__name__)

HUGE = 2**30  # bytes declared and streamed by huge_body; inflated size of the gzip bomb
CHUNK = 2**16
HOLD_MAX = 600.0  # a hung reply lets go after this long even if the client never does
_MIB = bytes(2**20)


class Conn(Protocol):
    """The parts of a request handler a streamer uses."""

    wfile: BufferedIOBase
    connection: socket.socket


Streamer = Callable[[Conn, bytes, threading.Event], None]


def write_body(conn: Conn, body: bytes, stop: threading.Event) -> None:
    """Send ``body`` as is (shorter than the declared length for a truncated reply)."""
    try:
        conn.wfile.write(body)
        conn.wfile.flush()
    except OSError:
        logger.debug("client left during a truncated body")


def hold(conn: Conn, body: bytes, stop: threading.Event) -> None:
    """Send nothing until the client closes the connection, the server stops, or HOLD_MAX."""
    deadline = time.monotonic() + HOLD_MAX
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            readable, _, _ = select.select([conn.connection], [], [], 0.5)
            if readable and not conn.connection.recv(CHUNK):
                return  # the client hung up
        except OSError:
            return


def write_huge(conn: Conn, body: bytes, stop: threading.Event) -> None:
    """Stream HUGE bytes of a JSON string that never closes, in chunks, until the client quits."""
    head = b'{"ok": 1, "data": {"pad": "'
    filler = b"x" * CHUNK
    sent = 0
    try:
        conn.wfile.write(head)
        sent = len(head)
        while sent < HUGE and not stop.is_set():
            piece = filler[: min(CHUNK, HUGE - sent)]
            conn.wfile.write(piece)
            sent += len(piece)
    except OSError:
        logger.debug("client left a huge body after %s bytes", sent)


@functools.cache
def gzip_bomb() -> bytes:
    """One gzip member (about 1 MB) that inflates to HUGE zero bytes; built once per process.

    Deflating 1 GiB would take seconds, so one MiB is deflated with a full flush (which resets
    the compressor's state) and the identical compressed block is repeated.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(_MIB) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(HUGE // len(_MIB)):
        crc = zlib.crc32(_MIB, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # magic, deflate, no flags, mtime 0
    trailer = struct.pack("<II", crc, HUGE & 0xFFFFFFFF)
    return header + block * (HUGE // len(_MIB)) + deflate.flush() + trailer
