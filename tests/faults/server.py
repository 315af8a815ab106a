"""A raw, fault-injecting HTTP/1.1 server for the fault tests (127.0.0.1 only, plain sockets, threads).

Each test scripts the exact bytes of every reply: status line, headers (echoing request headers if
it wants), a body as raw bytes or as chosen chunks of a chunked transfer, small bounded delays, and
how the reply ends: finished (keep-alive), finished then closed (a stale keep-alive connection),
left hanging with the body unfinished, closed (FIN) or reset (RST) mid-body.

The server records every request (method, path, headers, body, connection) and every connection
(who closed it), so tests assert on server-side counts, never on wall-clock windows. ``stop()``
(fixture teardown) ends every hang and closes every socket.

A reply is a list of steps, or a function of the ``Request`` returning one:

    ("send", b"...")   write raw bytes
    ("sleep", 0.05)    pause (capped at MAX_DELAY; cut short by stop())
    ("hang",)          keep the connection open, sending nothing, until the client closes it or stop()
    ("close",)         close the connection (FIN)
    ("reset",)         abort the connection (RST)

Builders: ``respond`` (any status/headers/body/chunks/ending), ``json_reply``, ``sse_reply``,
``hang_before_headers``.
"""

from __future__ import annotations

import contextlib
import http
import json
import select
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_DELAY",
    "Connection",
    "FaultServer",
    "Reply",
    "Request",
    "closed_port",
    "hang_before_headers",
    "json_reply",
    "respond",
    "sse_reply",
]

MAX_DELAY = 2.0  # no scripted pause may be longer than this
_POLL = 0.02
_MAX_HEAD = 256 * 1024

Step = tuple[Any, ...]
Reply = list[Step] | Callable[["Request"], list[Step]]
HeaderValue = str | bytes
Headers = Mapping[str, HeaderValue] | Iterable[tuple[str, HeaderValue]] | None


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    raw_headers: list[tuple[str, str]]  # as sent, in order
    body: bytes
    conn_id: int
    open_peers: list[int] = field(default_factory=list)  # other connections still open on arrival

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One accepted TCP connection and what happened to it."""

    def __init__(self, cid: int, sock: socket.socket) -> None:
        self.id = cid
        self.sock = sock
        self.requests = 0
        self.client_closed = threading.Event()  # the client closed (or reset) it
        self.server_closed = threading.Event()  # a scripted close/reset
        self.closed = threading.Event()  # gone, whoever ended it

    def __repr__(self) -> str:
        state = ("client-closed" if self.client_closed.is_set() else "server-closed" if self.server_closed.is_set()
                 else "closed" if self.closed.is_set() else "open")
        return f"Connection(id={self.id}, requests={self.requests}, {state})"


class _Stop(Exception):
    """The server is stopping: end the handler quietly."""


class _PeerGone(Exception):
    """The client closed or reset the connection."""


def _header_items(headers: Headers) -> list[tuple[str, HeaderValue]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def _as_bytes(value: HeaderValue) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def respond(
    status: int = 200,
    body: Any = b"",
    *,
    headers: Headers = None,
    content_type: str | None = "application/json",
    reason: str | None = None,
    chunks: list[bytes] | None = None,
    end: str = "finish",
    delay: float = 0.0,
    chunk_delay: float = 0.0,
    content_length: int | None = None,
) -> list[Step]:
    """Steps for one HTTP/1.1 response.

    ``body`` is bytes, str, or a JSON value. With ``chunks`` the body is sent with
    ``Transfer-Encoding: chunked``, one chunk per item (``body`` is then ignored). ``end`` is one of
    ``finish`` (complete, keep-alive), ``finish+close`` (complete, then the server closes the idle
    connection), ``hang`` / ``close`` / ``reset`` (the body is left unfinished: no terminating
    chunk, or fewer bytes than Content-Length, then hang, FIN or RST).
    """
    if end not in ("finish", "finish+close", "hang", "close", "reset"):
        raise ValueError(f"unknown end {end!r}")
    finished = end in ("finish", "finish+close")
    if reason is None:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
    head = [f"HTTP/1.1 {status} {reason}".encode("latin-1")]
    items = _header_items(headers)
    if content_type is not None:
        head.append(b"Content-Type: " + content_type.encode("latin-1"))
    payload = _body_bytes(body)
    if chunks is not None:
        head.append(b"Transfer-Encoding: chunked")
    else:
        length = content_length if content_length is not None else len(payload) + (0 if finished else 100)
        head.append(b"Content-Length: " + str(length).encode())
    head.append(b"Connection: keep-alive")
    for name, value in items:
        head.append(name.encode("latin-1") + b": " + _as_bytes(value))
    steps: list[Step] = []
    if delay:
        steps.append(("sleep", delay))
    head_bytes = b"\r\n".join(head) + b"\r\n\r\n"
    if chunks is None:
        steps.append(("send", head_bytes + payload))
    else:
        steps.append(("send", head_bytes))
        for chunk in chunks:
            if chunk_delay:
                steps.append(("sleep", chunk_delay))
            if chunk:  # an empty chunk would be the terminator
                steps.append(("send", b"%x\r\n%s\r\n" % (len(chunk), chunk)))
        if finished:
            steps.append(("send", b"0\r\n\r\n"))
    if end == "finish+close":
        steps.append(("close",))
    elif end in ("hang", "close", "reset"):
        steps.append((end,))
    return steps


def json_reply(obj: Any, status: int = 200, *, headers: Headers = None, **kw: Any) -> list[Step]:
    return respond(status, obj, headers=headers, **kw)


def sse_reply(*events: str | bytes, status: int = 200, headers: Headers = None,
              content_type: str | None = "text/event-stream", end: str = "finish", **kw: Any) -> list[Step]:
    """A chunked event stream, one chunk per event (each event is sent exactly as given)."""
    chunks = [_as_bytes(e) for e in events]
    return respond(status, headers=headers, content_type=content_type, chunks=chunks, end=end, **kw)


def hang_before_headers() -> list[Step]:
    return [("hang",)]


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections: bound (so nobody else can take it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


_HUNG_UP = getattr(select, "POLLRDHUP", 0) | select.POLLHUP | select.POLLERR | select.POLLNVAL


def _peer_gone(sock: socket.socket) -> bool:
    """True when the client end of ``sock`` has closed (EOF pending) or the socket is unusable.

    Never blocks: a peek (``recv``) on a socket with a timeout waits for data first, and when the
    connection's own thread read the request ``select`` saw, it waited the whole timeout (5 s) while
    holding the server's lock. Linux reports the client's FIN as ``POLLRDHUP`` without reading.
    """
    if hasattr(select, "POLLRDHUP"):
        try:
            poller = select.poll()
            poller.register(sock, select.POLLIN | select.POLLRDHUP)
            return any(events & _HUNG_UP for _, events in poller.poll(0))
        except (OSError, ValueError):
            return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):
        return True


class FaultServer:
    """Scripted raw HTTP/1.1 server on 127.0.0.1, ephemeral port. Thread-safe to inspect."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._listener.settimeout(_POLL)
        self.port = int(self._listener.getsockname()[1])
        self.requests: list[Request] = []
        self.connections: list[Connection] = []
        self.unscripted = 0
        self.errors: list[str] = []  # bugs in a script (bad step, ...), reported by the fixture
        self._script: deque[Reply] = deque()
        self._default: Reply | None = None
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept_loop, name="fault-server-accept", daemon=True)
        self._accepter.start()

    # -- scripting ---------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def script(self, *replies: Reply) -> FaultServer:
        """Queue replies: each request takes the next one."""
        with self._cond:
            self._script.extend(replies)
        return self

    def always(self, reply: Reply) -> FaultServer:
        """The reply for every request once the queue is empty."""
        with self._cond:
            self._default = reply
        return self

    # -- inspection --------------------------------------------------------------------------
    @property
    def request_count(self) -> int:
        with self._cond:
            return len(self.requests)

    @property
    def connection_count(self) -> int:
        with self._cond:
            return len(self.connections)

    def open_connections(self) -> list[Connection]:
        with self._cond:
            return [c for c in self.connections if not c.closed.is_set()]

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait (bounded) for a condition on the server's state; True when it holds."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def wait_client_closed(self, conn_index: int = 0, timeout: float = 10.0) -> bool:
        """Wait (bounded) until the client closed connection number ``conn_index``."""
        def done() -> bool:
            return len(self.connections) > conn_index and self.connections[conn_index].client_closed.is_set()
        return self.wait_until(done, timeout)

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- lifecycle ---------------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._notify()
        self._accepter.join(5)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._cond:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.sock.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> FaultServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, BlockingIOError):
                continue
            except OSError:
                return
            sock.settimeout(5.0)  # bounds sendall; reads go through select with a stop check
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._cond:
                conn = Connection(len(self.connections), sock)
                self.connections.append(conn)
                thread = threading.Thread(target=self._serve, args=(conn,), name=f"fault-conn-{conn.id}",
                                          daemon=True)
                self._threads.append(thread)
                self._cond.notify_all()
            thread.start()

    def _recv(self, conn: Connection) -> bytes:
        """Next bytes from the client; raises _PeerGone at EOF/reset and _Stop when stopping."""
        while True:
            if self._stop.is_set():
                raise _Stop
            try:
                readable, _, _ = select.select([conn.sock], [], [], _POLL)
            except (OSError, ValueError):
                raise _Stop if self._stop.is_set() else _PeerGone from None
            if not readable:
                continue
            try:
                data = conn.sock.recv(65536)
            except OSError:
                raise _Stop if self._stop.is_set() else _PeerGone from None
            if not data:
                raise _PeerGone
            return data

    def _read_request(self, conn: Connection, buf: bytes) -> tuple[Request, bytes]:
        while b"\r\n\r\n" not in buf:
            if len(buf) > _MAX_HEAD:
                raise _PeerGone
            buf += self._recv(conn)
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = [*lines[0].split(" ", 2), "", ""][:3]
        raw = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            raw.append((name, value.strip(" \t")))
        headers = {name.lower(): value for name, value in raw}
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, rest = self._read_chunked(conn, rest)
        else:
            length = int(headers.get("content-length") or 0)
            while len(rest) < length:
                rest += self._recv(conn)
            body, rest = rest[:length], rest[length:]
        return Request(method, path, headers, raw, body, conn.id), rest

    def _read_chunked(self, conn: Connection, buf: bytes) -> tuple[bytes, bytes]:
        body = b""
        while True:
            while b"\r\n" not in buf:
                buf += self._recv(conn)
            size_line, _, buf = buf.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            while len(buf) < size + 2:
                buf += self._recv(conn)
            body, buf = body + buf[:size], buf[size + 2:]
            if size == 0:
                return body, buf

    def _next_reply(self) -> Reply | None:
        with self._cond:
            if self._script:
                return self._script.popleft()
            return self._default

    def _serve(self, conn: Connection) -> None:
        buf = b""
        try:
            while True:
                request, buf = self._read_request(conn, buf)
                with self._cond:
                    request.open_peers = [c.id for c in self.connections
                                          if c is not conn and not c.closed.is_set() and not _peer_gone(c.sock)]
                    self.requests.append(request)
                    conn.requests += 1
                    self._cond.notify_all()
                reply = self._next_reply()
                if reply is None:
                    with self._cond:
                        self.unscripted += 1
                    reply = respond(418, {"error": {"message": "fault server: no reply scripted"}})
                steps = reply(request) if callable(reply) else reply
                if not self._run_steps(conn, steps):
                    return
        except _PeerGone:
            conn.client_closed.set()
        except _Stop:
            pass
        except Exception as exc:  # a bad script: surface it instead of killing the thread silently
            with self._cond:
                self.errors.append(f"connection {conn.id}: {exc!r}")
        finally:
            with contextlib.suppress(OSError):
                conn.sock.close()
            conn.closed.set()
            self._notify()

    def _run_steps(self, conn: Connection, steps: list[Step]) -> bool:
        """Play one reply; False when the connection is over (closed by either side)."""
        for step in steps:
            kind = step[0]
            if kind == "send":
                try:
                    conn.sock.sendall(step[1])
                except OSError:
                    raise _Stop if self._stop.is_set() else _PeerGone from None
            elif kind == "sleep":
                seconds = float(step[1])
                if not 0 <= seconds <= MAX_DELAY:
                    raise ValueError(f"scripted delay {seconds} s is outside [0, {MAX_DELAY}]")
                if self._stop.wait(seconds):
                    raise _Stop
            elif kind == "hang":
                while True:  # anything the client sends is ignored; ends on EOF/reset (_PeerGone) or _Stop
                    self._recv(conn)
            elif kind == "close":
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
                conn.server_closed.set()
                return False
            elif kind == "reset":
                with contextlib.suppress(OSError):
                    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.server_closed.set()
                return False
            else:
                raise ValueError(f"unknown step {step!r}")
        return True
