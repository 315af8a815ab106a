"""Sans-IO Server-Sent Events decoder (WHATWG event-stream rules), tuned for LLM streams.

Feed it raw bytes in any chunking; it yields complete events. Handles CR, LF and CRLF line ends
(also a CRLF split across two chunks), ``:`` comment keep-alives, multi-line ``data``,
``event``/``id``/``retry`` fields, and a UTF-8 character split across chunks. It knows nothing
about JSON, ``[DONE]`` or providers: that is ``decode_openai_event`` and the Anthropic codec.
"""

from __future__ import annotations

import json
from typing import Any

from ._errors import StreamError, error_message

__all__ = ["DONE", "SSEDecoder", "ServerSentEvent", "decode_openai_event"]


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

    __slots__ = ("_buf", "last_event_id")

    def __init__(self) -> None:
        self._buf = b""
        self.last_event_id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        data = self._buf + chunk if self._buf else chunk
        hold = b""
        if b"\r" in data:
            # A trailing CR may be the first half of a CRLF split across chunks: hold it back.
            if data[-1:] == b"\r":
                data, hold = data[:-1], b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        blocks = data.split(b"\n\n")
        self._buf = blocks.pop() + hold
        return self._parse_blocks(blocks)

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: dispatch a final event that lacked its blank line (lenient, as SDKs are)."""
        rest, self._buf = self._buf.rstrip(b"\r\n"), b""
        return self._parse_blocks([rest]) if rest else []

    def _parse_blocks(self, blocks: list[bytes]) -> list[ServerSentEvent]:
        out: list[ServerSentEvent] = []
        for block in blocks:
            if not block:
                continue
            # Fast path: the common single-line "data: {...}" event.
            if block[:6] == b"data: " and b"\n" not in block:
                out.append(ServerSentEvent(block[6:].decode(), id=self.last_event_id))
                continue
            event = self._parse_block(block)
            if event is not None:
                out.append(event)
        return out

    def _parse_block(self, block: bytes) -> ServerSentEvent | None:
        data: list[str] = []
        event = "message"
        retry: int | None = None
        for raw in block.split(b"\n"):
            if not raw or raw[:1] == b":":
                continue
            name_b, sep, value_b = raw.partition(b":")
            value = value_b.decode()
            if value[:1] == " ":
                value = value[1:]
            if not sep:
                value = ""
            name = name_b.decode()
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value or "message"
            elif name == "id":
                if "\0" not in value:
                    self.last_event_id = value
            elif name == "retry" and value.isdigit():
                retry = int(value)
        if not data:
            return None
        return ServerSentEvent("\n".join(data), event, self.last_event_id, retry)


DONE: Any = object()
"""Sentinel returned by ``decode_openai_event`` for ``data: [DONE]``."""


def decode_openai_event(sse: ServerSentEvent) -> Any:
    """Turn one SSE event of an OpenAI-format stream into a chunk dict, ``DONE``, or raise ``StreamError``."""
    data = sse.data
    if data == "[DONE]":
        return DONE
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise StreamError(f"Malformed JSON in stream event: {data[:200]!r}") from exc
    if sse.event == "error" or (isinstance(obj, dict) and "error" in obj and not obj.get("choices")):
        err = obj.get("error", obj) if isinstance(obj, dict) else obj
        raise StreamError(f"Error in stream: {error_message({'error': err}, 'unknown error')}", body=obj)
    if not isinstance(obj, dict):
        raise StreamError(f"Unexpected stream event (not a JSON object): {data[:200]!r}")
    return obj
