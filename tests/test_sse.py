"""SSE decoder: table-driven cases, and every case again under every possible byte split."""

from __future__ import annotations

import pytest

from a2agent import ServerSentEvent, SSEDecoder, StreamError
from a2agent._codec import DONE
from a2agent._openai import decode_openai_event

E = ServerSentEvent

CASES = [
    ("single", b"data: hello\n\n", [E("hello")]),
    ("two_events", b"data: a\n\ndata: b\n\n", [E("a"), E("b")]),
    ("crlf", b"data: a\r\n\r\ndata: b\r\n\r\n", [E("a"), E("b")]),
    ("cr_only", b"data: a\r\rdata: b\r\r", [E("a"), E("b")]),
    ("comment_keepalive", b": keep-alive\n\ndata: x\n\n: ping\n\n", [E("x")]),
    ("multiline_data", b"data: line1\ndata: line2\n\n", [E("line1\nline2")]),
    ("no_space_after_colon", b"data:tight\n\n", [E("tight")]),
    ("event_and_id", b"event: message_start\nid: 7\ndata: {}\n\n", [E("{}", "message_start", "7")]),
    ("retry_field", b"retry: 1500\ndata: r\n\n", [E("r", retry=1500)]),
    ("data_without_colon_is_empty_data", b"data\n\n", [E("")]),
    ("unknown_field_ignored", b"foo: bar\ndata: z\n\n", [E("z")]),
    ("event_without_data_not_dispatched", b"event: ping\n\n", []),
    ("utf8", "data: héllo 世界\n\n".encode(), [E("héllo 世界")]),
    ("done", b"data: [DONE]\n\n", [E("[DONE]")]),
    ("trailing_event_without_blank_line", b"data: a\n\ndata: tail", [E("a"), E("tail")]),
    ("blank_lines_between", b"\n\n\ndata: a\n\n\n\ndata: b\n\n", [E("a"), E("b")]),
]


def _decode_all(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    out: list[ServerSentEvent] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    out.extend(decoder.flush())
    return out


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decoder_whole(raw: bytes, expected: list[ServerSentEvent]) -> None:
    assert _decode_all([raw]) == expected


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decoder_every_split(raw: bytes, expected: list[ServerSentEvent]) -> None:
    for i in range(len(raw) + 1):
        for j in range(i, len(raw) + 1):
            assert _decode_all([raw[:i], raw[i:j], raw[j:]]) == expected, (i, j)


def test_decoder_byte_at_a_time() -> None:
    raw = b": hi\r\ndata: {\"a\": 1}\r\n\r\nevent: x\r\ndata: 2\r\n\r\n"
    assert _decode_all([raw[i:i + 1] for i in range(len(raw))]) == [E('{"a": 1}'), E("2", "x")]


@pytest.mark.parametrize(
    ("data", "event", "expected"),
    [
        ('{"choices": []}', "message", {"choices": []}),
        ("[DONE]", "message", DONE),
        ('{"choices": [{"index": 0, "delta": {}}], "error": null}', "message",
         {"choices": [{"index": 0, "delta": {}}], "error": None}),
    ],
    ids=["chunk", "done", "error_key_with_choices_is_a_chunk"],
)
def test_decode_openai_event(data: str, event: str, expected: object) -> None:
    assert decode_openai_event(E(data, event)) == expected


@pytest.mark.parametrize(
    ("data", "event", "match"),
    [
        ('{"error": {"message": "overloaded", "type": "server_error"}}', "message", "overloaded"),
        ('{"message": "boom"}', "error", "boom"),
        ("{not json", "message", "Malformed JSON"),
        ("[1, 2]", "message", "not a JSON object"),
    ],
    ids=["error_object", "error_event_name", "malformed", "not_object"],
)
def test_decode_openai_event_errors(data: str, event: str, match: str) -> None:
    with pytest.raises(StreamError, match=match) as info:
        decode_openai_event(E(data, event))
    assert info.value.body is None or isinstance(info.value.body, dict)
