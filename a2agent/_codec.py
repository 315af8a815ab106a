"""Wire codecs: translate the canonical (OpenAI chat-completions) payload to a wire format and back.

A codec is picked once per client (``api_format``). Its ``event_decoder()`` turns one SSE event
into a canonical chunk dict, ``None`` (nothing for the caller: ping, bookkeeping) or ``DONE`` (the
format's end marker: the caller stops reading there). A 200 response that is not what the format
promises raises ``APIResponseError``; an error or malformed event inside a stream, ``StreamError``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ._errors import APIResponseError, InvalidInputError, StreamError, error_message, scrub_exception
from ._messages import strip_internal_keys
from ._sse import ServerSentEvent
from ._validate import check_sampling
from .types import ChatCompletion

__all__ = ["API_FORMATS", "DONE", "Codec", "OpenAICodec", "decode_openai_event", "get_codec",
           "validate_chat_payload"]

DONE: Any = object()
"""Returned by an event decoder for the format's end marker (``data: [DONE]``, ``message_stop``)."""

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


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


def validate_chat_payload(payload: Any) -> None:
    """Raise ``InvalidInputError`` naming the first thing wrong with a canonical request."""
    if not isinstance(payload, Mapping):
        raise InvalidInputError(f"payload must be a mapping, got {type(payload).__name__}")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInputError(f"payload['model'] must be a non-empty string, got {model!r}")
    messages = payload.get("messages")
    if not isinstance(messages, list | tuple) or not messages:
        raise InvalidInputError("payload['messages'] must be a non-empty list of message dicts")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidInputError(f"messages[{i}] must be a dict, got {type(message).__name__}")
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidInputError(f"messages[{i}].role must be one of {sorted(_ROLES)}, got {role!r}")
    check_sampling(payload)


class OpenAICodec:
    name = "openai"
    chat_path = "/chat/completions"
    headers: Mapping[str, str] = {}

    def encode_request(self, payload: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
        body = dict(payload)
        if "messages" in body:  # keys only other codecs read (signatures, tool error flags) stay home
            body["messages"] = strip_internal_keys(body["messages"])
        if stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        return body

    def decode_response(self, body: Any) -> ChatCompletion:
        if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
            raise APIResponseError(f"Unexpected chat completion response: {str(body)[:200]!r}", body=body)
        return body  # type: ignore[return-value]

    def event_decoder(self) -> Callable[[ServerSentEvent], Any]:
        return decode_openai_event

    @staticmethod
    def is_end(sse: ServerSentEvent) -> bool:
        return sse.data == "[DONE]"


API_FORMATS = ("openai", "anthropic")


def get_codec(api_format: str) -> Codec:
    if api_format == "openai":
        return OpenAICodec()
    if api_format == "anthropic":
        from ._anthropic import AnthropicCodec

        return AnthropicCodec()
    raise InvalidInputError(f"api_format must be one of {API_FORMATS}, got {api_format!r}")


def decode_openai_event(sse: ServerSentEvent) -> Any:
    """Turn one SSE event of an OpenAI-format stream into a chunk dict, ``DONE``, or raise ``StreamError``."""
    data = sse.data
    if data == "[DONE]":
        return DONE
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise StreamError(f"Malformed JSON in stream event: {data[:200]!r}") from scrub_exception(exc)
    if not isinstance(obj, dict):
        raise StreamError(f"Unexpected stream event (not a JSON object): {data[:200]!r}")
    if sse.event == "error" or (obj.get("error") and not obj.get("choices")):
        err = obj.get("error", obj)
        raise StreamError(f"Error in stream: {error_message({'error': err}, 'unknown error')}", body=obj)
    choices = obj.get("choices")
    # The one shape check per event: what the accumulator and adapters index into must be there.
    if choices is not None and not (type(choices) is list and all(
            type(c) is dict and type(c.get("delta") or {}) is dict for c in choices)):
        raise StreamError(f"Malformed stream chunk (choices): {data[:200]!r}", body=obj)
    return obj
