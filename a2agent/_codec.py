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

_orjson_loads: Callable[[str], Any] | None
try:  # used when present (langchain-core brings it, through langsmith); never a dependency
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson_loads = None


def loads_event(data: str) -> Any:
    """``json.loads`` for one stream event's data, with the same results and errors.

    Speed, per event of the 2000-chunk benchmark stream: ``json.loads`` 2.5 µs, most of it in
    Python (type checks, two whitespace regex matches) before its C scanner runs; the scanner called
    directly 1.6 µs; orjson, when installed, 0.75 µs. Whatever a fast path refuses (NaN and
    Infinity for orjson; leading or trailing whitespace for the scanner; invalid JSON) goes through
    ``json.loads``, which then accepts it or raises its usual ``ValueError``. One difference is
    left: orjson reads an integer beyond 64 bits as a float (no chat-completion field carries one).
    """
    if _orjson_loads is not None:
        try:
            return _orjson_loads(data)
        except ValueError:
            return json.loads(data)
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
