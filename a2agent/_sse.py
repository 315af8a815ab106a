"""Sans-IO Server-Sent Events decoder (WHATWG event-stream rules), tuned for LLM streams.

Feed it raw bytes in any chunking; it yields complete events. Handles CR, LF and CRLF line ends
(also a CRLF split across two chunks), ``:`` comment keep-alives, multi-line ``data``,
``event``/``id``/``retry`` fields, and a UTF-8 character split across chunks. Hostile input is
handled as the spec says: invalid UTF-8 decodes to U+FFFD, a ``retry`` value that is not ASCII
digits is ignored. Decoding is linear in bytes: a partial event is kept as a list of pieces and
joined once, when its end arrives. It knows nothing about JSON, ``[DONE]`` or providers: the codecs
(``_codec.py``, ``_anthropic.py``) turn events into chunks.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SSEDecoder", "ServerSentEvent"]


class ServerSentEvent:
    __slots__ = ("data", "event", "id", "retry")

    def __init__(self, data: str = "", event: str = "message", id: str | None = None,
                 retry: int | None = None) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry

    def json(self) -> Any:
        return json.loads(self.data)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ServerSentEvent):
            return NotImplemented
        return (self.data, self.event, self.id, self.retry) == (other.data, other.event, other.id, other.retry)

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, data={self.data!r}, id={self.id!r}, retry={self.retry!r})"


class SSEDecoder:
    """Incremental decoder: ``feed(bytes) -> list[ServerSentEvent]``, then ``flush()`` at EOF."""

    __slots__ = ("_cr", "_pending", "last_event_id")

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # the unfinished event, in pieces (joined once: linear)
        self._cr = False  # the last chunk ended in CR: maybe the first half of a CRLF
        self.last_event_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._cr:
            chunk, self._cr = b"\r" + chunk, False
        if b"\r" in chunk:
            if chunk[-1:] == b"\r":
                chunk, self._cr = chunk[:-1], True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        pending = self._pending
        if b"\n\n" not in chunk and not (pending and chunk[:1] == b"\n" and pending[-1][-1:] == b"\n"):
            if chunk:
                pending.append(chunk)
            return []
        if pending:  # the end of an event that came in pieces
            pending.append(chunk)
            chunk = b"".join(pending)
            pending.clear()
        end = chunk.rfind(b"\n\n")
        if end + 2 < len(chunk):
            pending.append(chunk[end + 2:])
        # Decoded once per chunk, not per event: the blank line is ASCII, so a multi-byte character
        # never straddles it. (Measured: 2000 bench events decode in 1.0 ms this way, 1.9 ms when
        # each event's bytes were decoded on their own.)
        return self._parse_blocks(chunk[:end].decode("utf-8", "replace").split("\n\n"))

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: dispatch a final event that lacked its blank line (lenient, as SDKs are)."""
        rest = b"".join(self._pending).rstrip(b"\n")
        self._pending.clear()
        self._cr = False
        return self._parse_blocks([rest.decode("utf-8", "replace")]) if rest else []

    def _parse_blocks(self, blocks: list[str]) -> list[ServerSentEvent]:
        out: list[ServerSentEvent] = []
        for block in blocks:
            # Fast path: the common single-line "data: {...}" event.
            if block[:6] == "data: " and "\n" not in block:
                out.append(ServerSentEvent(block[6:], "message", self.last_event_id))
            elif block and (event := self._parse_block(block)) is not None:
                out.append(event)
        return out

    def _parse_block(self, block: str) -> ServerSentEvent | None:
        data: list[str] = []
        event = "message"
        retry: int | None = None
        for raw in block.split("\n"):
            if not raw or raw[:1] == ":":
                continue
            name, sep, value = raw.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if not sep:
                value = ""
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value or "message"
            elif name == "id":
                if "\0" not in value:
                    self.last_event_id = value
            elif name == "retry" and value.isascii() and value.isdigit():
                retry = int(value)
        if not data:
            return None
        return ServerSentEvent("\n".join(data), event, self.last_event_id, retry)
