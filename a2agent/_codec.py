"""Wire codecs: the protocol, the end-marker sentinel, and the choice of codec per ``api_format``.

A codec translates the canonical (OpenAI chat-completions) payload to a wire format and back; one
is picked per client. Its ``event_decoder()`` turns one SSE event into a canonical chunk dict,
``None`` (nothing for the caller: ping, bookkeeping) or ``DONE`` (the format's end marker: the caller
stops reading there). A 200 response that is not what the format promises raises
``APIResponseError``; an error or malformed event inside a stream, ``StreamError``.

The codecs: ``_openai.py`` (a pass-through, plus its event decoder) and ``_anthropic.py`` (the
Messages format). A new wire format is a third module with a class of this protocol, registered
in ``get_codec``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ._errors import InvalidInputError
from ._sse import ServerSentEvent
from .types import ChatCompletion

__all__ = ["API_FORMATS", "DONE", "Codec", "get_codec", "loads_event"]

DONE: Any = object()
"""Returned by an event decoder for the format's end marker (``data: [DONE]``, ``message_stop``)."""

API_FORMATS = ("openai", "anthropic")

_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads_event(data: str) -> Any:
    """``json.loads`` for one stream event's data, with the same results and errors.

    Speed: ``json.loads`` spends about a microsecond per call in Python (type checks, two
    whitespace regex matches) before its C scanner runs; a stream pays that once per event. Calling
    the scanner directly decodes the 2000 events of the benchmark stream in 2.9 ms instead of
    5.1 ms. Anything the fast path does not cover exactly (leading or trailing whitespace, invalid
    JSON) goes through ``json.loads``, which then accepts it or raises its usual ``ValueError``.
    """
    try:
        value, end = _scan_once(data, 0)
    except StopIteration:
        return json.loads(data)
    return value if end == len(data) else json.loads(data)


class Codec(Protocol):
    name: str
    chat_path: str
    headers: Mapping[str, str]

    def encode_request(self, payload: Mapping[str, Any], *, stream: bool) -> dict[str, Any]: ...

    def decode_response(self, body: Any) -> ChatCompletion: ...

    def event_decoder(self) -> Callable[[ServerSentEvent], Any]: ...

    def is_end(self, sse: ServerSentEvent) -> bool:
        """Whether ``sse`` is the format's end marker (a cheap check, before decoding)."""
        ...


def get_codec(api_format: str) -> Codec:
    if api_format == "openai":
        from ._openai import OpenAICodec

        return OpenAICodec()
    if api_format == "anthropic":
        from ._anthropic import AnthropicCodec

        return AnthropicCodec()
    raise InvalidInputError(f"api_format must be one of {API_FORMATS}, got {api_format!r}")
