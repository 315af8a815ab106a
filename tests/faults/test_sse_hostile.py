"""Hostile SSE input (contract n): odd ``retry:`` values and invalid UTF-8 never surface as a bare
ValueError/UnicodeDecodeError; a bad retry field is ignored, invalid bytes become U+FFFD (or a
StreamError when they break the JSON of an event)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from a2agent import StreamError
from tests.faults.helpers import (
    MODEL,
    answer,
    done_event,
    head_events,
    make_api,
    run,
    run_raises,
    stream_events,
    tail_events,
)
from tests.faults.server import FaultServer, sse_reply

Hunt = Callable[..., None]


def _text_event(fmt: str, text_json_bytes: bytes, prefix: bytes = b"") -> bytes:
    """A text event whose JSON string value is given as raw bytes (possibly invalid UTF-8)."""
    if fmt == "openai":
        head = json.dumps({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
                           "choices": [{"index": 0, "delta": {"content": "@@"}, "finish_reason": None}]})
        return prefix + b"data: " + head.encode().replace(b'"@@"', b'"' + text_json_bytes + b'"') + b"\n\n"
    head = json.dumps({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "@@"}})
    return (prefix + b"event: content_block_delta\n" + b"data: "
            + head.encode().replace(b'"@@"', b'"' + text_json_bytes + b'"') + b"\n\n")


def _stream(fmt: str, *middle: bytes) -> list[bytes]:
    return [e.encode() for e in head_events(fmt, ("a",))] + list(middle) + \
        [e.encode() for e in [*tail_events(fmt), done_event(fmt)]]


@pytest.mark.parametrize("retry", ["²", "³⁴", "1e3", "-1", "", "99999999999999999999999999", "٣"],
                         ids=["superscript_two", "superscripts", "float", "negative", "empty", "huge", "arabic_3"])
def test_odd_retry_field_is_ignored(mode: str, fmt: str, retry: str, server: FaultServer) -> None:
    event = _text_event(fmt, b"b", prefix=f"retry: {retry}\n".encode())
    server.always(sse_reply(*_stream(fmt, event)))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, "stream")) == "ab"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"b\xffc", "b\ufffdc"), (b"\xc3(", "\ufffd("), (b"\xed\xa0\x80x", "\ufffd\ufffd\ufffdx"),
     (b"\xe2\x82", "\ufffd")],
    ids=["ff_byte", "bad_continuation", "surrogate_encoding", "truncated_sequence"],
)
def test_invalid_utf8_in_event_text_becomes_replacement_chars(mode: str, fmt: str, raw: bytes, expected: str,
                                                              server: FaultServer) -> None:
    server.always(sse_reply(*_stream(fmt, _text_event(fmt, raw))))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, "stream")) == "a" + expected


@pytest.mark.parametrize(
    "extra",
    [b": keep-alive \xff\xfe\n\n", b"id: \xff\xfe\n", b"event: \xffx\n", b"x-\xff: y\n"],
    ids=["comment", "id_field", "event_name", "unknown_field"],
)
def test_invalid_utf8_outside_data_is_harmless(mode: str, fmt: str, extra: bytes, server: FaultServer) -> None:
    if extra.startswith(b":"):
        events = _stream(fmt, extra, _text_event(fmt, b"b"))
    elif extra.startswith(b"event:") and fmt == "anthropic":
        # Anthropic dispatches on the JSON type: a garbled event name must not matter.
        events = _stream(fmt, _text_event(fmt, b"b").replace(b"event: content_block_delta\n", extra))
    else:
        events = _stream(fmt, _text_event(fmt, b"b", prefix=extra))
    server.always(sse_reply(*events))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, "stream")) == "ab"


def test_utf8_character_split_across_chunks_is_kept(mode: str, fmt: str, server: FaultServer) -> None:
    event = _text_event(fmt, "é€😀".encode())
    cut = event.index("é".encode()) + 1  # inside the two-byte é
    cut2 = event.index("😀".encode()) + 2  # inside the four-byte emoji
    server.always(sse_reply(*_stream(fmt, event[:cut], event[cut:cut2], event[cut2:])))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, "stream")) == "aé€😀"


@pytest.mark.parametrize("payload", [b"\xff\xfe", b'{"choices": [\xff', b"\x80"], ids=["bom_like", "in_json", "lone"])
def test_invalid_utf8_that_breaks_the_json_is_a_stream_error(mode: str, fmt: str, payload: bytes,
                                                             server: FaultServer, hunt: Hunt) -> None:
    bad = (b"data: " if fmt == "openai" else b"event: content_block_delta\ndata: ") + payload + b"\n\n"
    server.always(sse_reply(*_stream(fmt, bad)))
    api = make_api(mode, server, fmt)
    exc = run_raises(api, lambda a: answer(a, "stream"))
    assert isinstance(exc, StreamError), f"expected StreamError, got {exc!r}"
    hunt(exc)


def test_invalid_utf8_in_the_last_unterminated_event(mode: str, fmt: str, server: FaultServer) -> None:
    """An event cut by the end of the body (flushed at EOF) goes through the same lenient decoding."""
    events: list[Any] = [e.encode() for e in stream_events(fmt)]
    events[-1] = events[-1].rstrip(b"\n") + b"\n: tail \xff"
    server.always(sse_reply(*events))
    api = make_api(mode, server, fmt)
    assert run(api, lambda a: answer(a, "stream")) == "ok"
