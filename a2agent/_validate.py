"""Input validation: the one place every setting and payload is checked, for the core and both adapters.

Each check raises ``InvalidInputError`` naming what was wrong (never echoing an API key), so a bad
argument fails at construction with a clear message instead of on the first call or as a raw
library exception. The adapters call these same functions from their constructors.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import warnings
from collections.abc import Mapping
from typing import Any

from ._errors import InvalidInputError

__all__ = [
    "MIN_KEY_LENGTH",
    "PARAMETER_DOCS",
    "check_api_key",
    "check_base_url",
    "check_content",
    "check_headers",
    "check_max_retries",
    "check_message",
    "check_message_fields",
    "check_messages",
    "check_sampling",
    "check_text",
    "check_timeout",
    "check_tools",
    "encode_json",
    "invalid_input",
    "kind_of",
    "validate_chat_payload",
]

# A2Agent keys are long random strings. Shorter values are refused so the scrubber, which rewrites
# every occurrence of the key in error texts, can never rewrite an ordinary word ("k" in "key").
MIN_KEY_LENGTH = 16
DEFAULT_TIMEOUT = 600.0


def check_api_key(key: object, owner: str = "A2Agent client") -> str:
    """The key, stripped of surrounding whitespace (a key read from a file ends in a newline).

    Inside, only printable ASCII without spaces is allowed: anything else cannot travel in an HTTP
    header, and would otherwise fail on the wire with the key quoted in the error.
    """
    if key is None or (isinstance(key, str) and not key.strip()):
        raise InvalidInputError(f"{owner} needs an API key: pass api_key=... or set the A2AGENT_API_KEY "
                                "environment variable.")
    if not isinstance(key, str):
        raise InvalidInputError(f"api_key must be a string, got {type(key).__name__}")
    key = key.strip()
    bad = next((c for c in key if not ("!" <= c <= "~")), None)
    if bad is not None:
        what = "whitespace" if bad.isspace() else "a control character" if ord(bad) < 32 or ord(bad) == 127 \
            else "a non-ASCII character"
        raise InvalidInputError(f"api_key contains {what} (U+{ord(bad):04X}); an API key is printable ASCII")
    if len(key) < MIN_KEY_LENGTH:
        raise InvalidInputError(f"api_key is {len(key)} characters long; A2Agent keys have at least "
                                f"{MIN_KEY_LENGTH}. Check that the whole key was copied.")
    return key


def check_base_url(url: Any) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise InvalidInputError(f"base_url must be an http(s) URL such as https://api.a2agent.me/v1, got {url!r}")
    if any(c.isspace() for c in url):
        raise InvalidInputError(f"base_url must not contain whitespace, got {url!r}")
    return url.rstrip("/")


def check_timeout(timeout: Any) -> Any:
    """Seconds as a positive finite float, or an ``httpx.Timeout`` passed through (httpx not imported)."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if type(timeout).__name__ == "Timeout" and type(timeout).__module__.startswith("httpx"):
        return timeout
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and 0 < timeout < math.inf:
        return float(timeout)
    raise InvalidInputError(f"timeout must be a positive, finite number of seconds or an httpx.Timeout, "
                            f"got {timeout!r}")


def check_max_retries(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(f"max_retries must be a non-negative int, got {value!r}")
    return value


def check_headers(headers: Any, name: str = "default_headers") -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidInputError(f"{name} must be a mapping of header names to strings, got {type(headers).__name__}")
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInputError(f"{name}[{key!r}] must map a str to a str, got {type(value).__name__}")
        if any(not (" " <= c <= "~") for c in value) or any(not ("!" <= c <= "~") for c in key):
            raise InvalidInputError(f"{name}[{key!r}] is not a valid HTTP header: names and values are "
                                    "printable ASCII (no control characters)")
        if key.lower() in _FRAMING_HEADERS:
            raise InvalidInputError(f"{name}[{key!r}] cannot be set: the transport frames the body itself "
                                    "(Content-Length from the encoded JSON)")
    return dict(headers)


# Set from the body on every request; one given by the caller would contradict it (h11 refuses the
# request, or sends a body its own length disagrees with).
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


# name: (low, high, integer?) -- the ranges of the OpenAI format, which A2Agent documents.
_RANGES: dict[str, tuple[float, float, bool]] = {
    "temperature": (0.0, 2.0, False),
    "top_p": (0.0, 1.0, False),
    "presence_penalty": (-2.0, 2.0, False),
    "frequency_penalty": (-2.0, 2.0, False),
    "max_tokens": (1, math.inf, True),
    "max_completion_tokens": (1, math.inf, True),
    "n": (1, 128, True),
    "top_logprobs": (0, 20, True),
    "seed": (-math.inf, math.inf, True),
}


# One wording per parameter for both adapters' field descriptions (help(), IDEs, Jupyter).
PARAMETER_DOCS: dict[str, str] = {
    'temperature': 'Sampling temperature, 0 to 2.',
    'top_p': 'Nucleus sampling, 0 to 1.',
    'seed': 'Seed for sampling, where the backend supports it.',
    'logprobs': 'Return token log probabilities (OpenAI format).',
    'top_logprobs': 'Alternatives per token with logprobs, 0 to 20.',
    'reasoning_effort': "'low', 'medium' or 'high' ('minimal' too), sent as is; in the Anthropic format it "
                        "sets the thinking budget.",
    'thinking': "Thinking mode on or off (thinking: {type: enabled|disabled}); the model's default when not set.",
    'max_retries': 'Retries of 408/409/429/5xx and connection errors.',
    'default_headers': 'Extra HTTP headers on every request.',
}


def check_sampling(params: Mapping[str, Any], where: str = "payload") -> None:
    """Types and ranges of the sampling parameters present (None values are skipped)."""
    for name, (low, high, integer) in _RANGES.items():
        value = params.get(name)
        if value is None:
            continue
        kind = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise InvalidInputError(f"{where}[{name!r}] must be {'an int' if integer else 'a number'}, "
                                    f"got {value!r}")
        if not (low <= value <= high) or (not integer and not math.isfinite(value)):
            raise InvalidInputError(f"{where}[{name!r}] must be between {low} and {high}, got {value!r}")
    stop = params.get("stop")
    if stop is not None and not isinstance(stop, str) and not (
            isinstance(stop, list | tuple) and all(isinstance(s, str) for s in stop)):
        raise InvalidInputError(f"{where}['stop'] must be a string or a list of strings, got {stop!r}")


def encode_json(payload: Any, where: str = "payload") -> bytes:
    """The request body as compact UTF-8 JSON; NaN, infinity, unserializable values and text that is
    not valid Unicode (a lone surrogate) are refused with the path of the offending value
    (``json.dumps`` would write ``NaN``, which is not JSON)."""
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        path, value = _find_unencodable(payload, where) or (where, payload)
        why = ("is not a finite number" if isinstance(value, float) else _NOT_UTF8 if isinstance(value, str)
               else f"is not JSON-serializable ({exc})")
        raise InvalidInputError(f"{path} {why}: got {value!r:.100}") from None


_NOT_UTF8 = "cannot be encoded as UTF-8 (it holds a lone surrogate), so it cannot be sent"


def _utf8(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _find_unencodable(value: Any, path: str) -> tuple[str, Any] | None:
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, str):
        return None if _utf8(value) else (path, value)
    if value is None or isinstance(value, int | bool):
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str | int | float | bool) and key is not None:
                return (f"{path} key {key!r}", key)
            if isinstance(key, str) and not _utf8(key):
                return (f"{path} key {key!r}", key)
            found = _find_unencodable(item, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _find_unencodable(item, f"{path}[{i}]")
            if found:
                return found
        return None
    return (path, value)


def invalid_input(owner: str, exc: Any) -> InvalidInputError:
    """An ``InvalidInputError`` from a pydantic ``ValidationError``: field and reason, never the
    rejected value (it may be a key)."""
    errors = exc.errors(include_input=False, include_url=False) if hasattr(exc, "errors") else []
    parts = [f"{'.'.join(str(p) for p in e.get('loc', ())) or 'value'}: {e.get('msg', 'invalid')}" for e in errors]
    return InvalidInputError(f"{owner}: invalid argument(s): {'; '.join(parts) or exc}")


_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def kind_of(value: Any) -> str:
    """How an error message names a value's type: "None", "int", "str"."""
    return "None" if value is None else type(value).__name__


def check_text(text: Any, where: str = "text") -> str:
    """Text that can be sent: a ``str`` that encodes as UTF-8 (no lone surrogates)."""
    if not isinstance(text, str):
        raise InvalidInputError(f"{where} must be a string, got {kind_of(text)}")
    if not _utf8(text):
        raise InvalidInputError(f"{where} {_NOT_UTF8}: got {text!r:.100}")
    return text


def check_content(content: Any, where: str) -> None:
    """Cheap shape check of a message's content that is not a str: a list of part dicts, text parts
    with string text (what a backend refuses, or crashes on, before anything is sent)."""
    if content is None:
        return
    if not isinstance(content, list | tuple):
        raise InvalidInputError(f"{where}.content must be a string, a list of content parts or None, "
                                f"got {kind_of(content)}")
    for j, part in enumerate(content):
        if not isinstance(part, Mapping):
            raise InvalidInputError(f"{where}.content[{j}] must be a dict (a content part), got {kind_of(part)}")
        if part.get("type") == "text" and not isinstance(part.get("text"), str):
            raise InvalidInputError(f"{where}.content[{j}].text must be a string, got {kind_of(part.get('text'))}")


def check_message(message: Any, where: str, *, deep: bool = False) -> None:
    """One canonical message: a dict with a known role, content a str, None or a list of part dicts,
    text parts with string text. ``deep`` (the token counter, which reads every field) also checks
    that every text is valid Unicode, ``name`` and ``reasoning_content`` are strings, image parts
    carry a URL, and tool calls are ``{function: {name, arguments}}`` with JSON arguments."""
    if not isinstance(message, Mapping):
        raise InvalidInputError(f"{where} must be a dict, got {kind_of(message)}")
    role = message.get("role")
    if role not in _ROLES:
        raise InvalidInputError(f"{where}.role must be one of {sorted(_ROLES)}, got {role!r}")
    content = message.get("content")
    if content.__class__ is not str:
        check_content(content, where)
    if deep:
        check_message_fields(message, where)


def check_message_fields(message: Mapping[str, Any], where: str) -> None:
    """The deep part of ``check_message`` (also for a role-less completion message)."""
    content = message.get("content")
    if isinstance(content, str):
        check_text(content, f"{where}.content")
    else:
        check_content(content, where)
        for j, part in enumerate(content or ()):
            kind = part.get("type")
            if kind == "text":
                check_text(part["text"], f"{where}.content[{j}].text")
            elif kind == "image_url":
                image = part.get("image_url")
                if not isinstance(image, Mapping) or not isinstance(image.get("url"), str):
                    raise InvalidInputError(f"{where}.content[{j}].image_url must be a dict with a string url, "
                                            f"got {image!r:.100}")
    for key in ("name", "reasoning_content"):
        if message.get(key) is not None:
            check_text(message[key], f"{where}.{key}")
    calls = message.get("tool_calls")
    if calls is None:
        return
    if not isinstance(calls, list | tuple):
        raise InvalidInputError(f"{where}.tool_calls must be a list, got {kind_of(calls)}")
    for k, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping):
            raise InvalidInputError(f"{where}.tool_calls[{k}] must be a dict with a 'function' dict")
        if function.get("name") is not None:
            check_text(function["name"], f"{where}.tool_calls[{k}].function.name")
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            check_text(arguments, f"{where}.tool_calls[{k}].function.arguments")
        elif arguments is not None:
            encode_json(arguments, f"{where}.tool_calls[{k}].function.arguments")


def check_messages(messages: Any, where: str = "messages", *, deep: bool = False) -> None:
    """A list of canonical messages (empty allowed: a request needs one, a count does not)."""
    if not isinstance(messages, list | tuple):
        raise InvalidInputError(f"{where} must be a list of message dicts, got {kind_of(messages)}")
    for i, message in enumerate(messages):
        check_message(message, f"{where}[{i}]", deep=deep)


def check_tools(tools: Any, where: str = "tools") -> None:
    """None or a list of tool dicts that can be sent as JSON."""
    if tools is None:
        return
    if not isinstance(tools, list | tuple):
        raise InvalidInputError(f"{where} must be a list of tool dicts, got {kind_of(tools)}")
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise InvalidInputError(f"{where}[{i}] must be a dict (a tool schema), got {kind_of(tool)}")
        encode_json(tool, f"{where}[{i}]")


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
        # The common shapes pass a quick test; anything else gets the full check, which names the path.
        content = message.get("content") if message.__class__ is dict else _SLOW
        if (content.__class__ is not str and content is not None and not _plain_parts(content)) \
                or message.get("role") not in _ROLES:
            check_message(message, f"messages[{i}]")
    for name in payload:  # the common fields by a set lookup; any other name is looked at once
        if name not in _REQUEST_FIELDS and looks_like_credential(name):
            raise InvalidInputError(f"payload[{name!r}] looks like a credential; it would be sent in the request "
                                    f"body: the key belongs in api_key= (the Authorization header)")
    check_sampling(payload)


_REQUEST_FIELDS = frozenset({
    "model", "messages", "temperature", "top_p", "max_tokens", "stop", "seed", "n", "stream", "stream_options",
    "tools", "tool_choice", "parallel_tool_calls", "response_format", "logprobs", "top_logprobs", "thinking",
    "reasoning_effort", "presence_penalty", "frequency_penalty", "max_completion_tokens", "user",
})


_SLOW = object()  # not a dict: check_message says what is wrong


def _plain_parts(content: Any) -> bool:
    """Content parts in the shape adapters build: a list of dicts, text parts with str text."""
    if content.__class__ is not list:
        return False
    for part in content:
        if part.__class__ is not dict or (part.get("type") == "text" and part.get("text").__class__ is not str):
            return False
    return True


# Names of secrets (``openai_api_key``, ``api_token``, ``key``, ``x_api_key``, ``secret``), never of
# request parameters (``max_tokens`` and ``budget_tokens`` end in "tokens"; OpenAI's
# ``prompt_cache_key`` is a parameter).
_CREDENTIAL = re.compile(r"(?:^|_)(?:api_?key|key|secret|password|passwd|pwd|token|bearer|auth|authorization|"
                         r"credentials?|sk)$")
_NOT_SECRETS = frozenset({"prompt_cache_key"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def looks_like_credential(name: object) -> bool:
    """``openai_api_key``, ``openaiApiKey``, ``x-api-key``, ``Authorization``, ``sk``: snake, camel and
    kebab case alike."""
    if not isinstance(name, str) or name in _NOT_SECRETS:
        return False
    return _CREDENTIAL.search(_CAMEL.sub("_", name).replace("-", "_").lower()) is not None


def split_unknown_arguments(owner: str, kwargs: dict[str, Any], known: set[str],
                            extra_field: str) -> dict[str, Any]:
    """Sort a constructor's keyword arguments: an unknown name that is a near miss of a declared one
    (``modle``, ``temprature``) is refused, naming the field it resembles, and so is a name that looks
    like a credential (``openai_api_key``, ``api_token``), here or in ``extra_field``; any other unknown name is
    a request parameter the class does not declare (``presence_penalty``): it is moved into
    ``kwargs[extra_field]`` with a warning, as langchain-openai does, rather than silently ignored.
    Returns the new kwargs (the input is not mutated)."""
    unknown = [name for name in kwargs if name not in known]
    extra_given = kwargs.get(extra_field)
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        if close:
            raise InvalidInputError(f"{owner} got an unknown argument {name!r}; did you mean {close[0]!r}?")
    for name in [*unknown, *(extra_given if isinstance(extra_given, Mapping) else ())]:
        if looks_like_credential(name):
            # It would go out in every request body, and into reprs, callbacks and traces.
            raise InvalidInputError(f"{owner} got {name!r}, which looks like a credential: extra arguments are "
                                    f"sent in the request body, so it is refused. Pass the key as api_key= "
                                    f"(or set A2AGENT_API_KEY).")
    if not unknown:
        return kwargs
    kwargs = dict(kwargs)
    extra = dict(kwargs.get(extra_field) or {})
    for name in unknown:
        if name in extra:
            raise InvalidInputError(f"{owner}: {name!r} was given twice, as an argument and in {extra_field}")
        warnings.warn(f"{owner}: {name!r} is not a declared parameter; it is sent in the request body "
                      f"(moved to {extra_field}).", UserWarning, stacklevel=4)
        extra[name] = kwargs.pop(name)
    kwargs[extra_field] = extra
    return kwargs


def state_without_secrets(state: dict[str, Any], drop: tuple[str, ...]) -> dict[str, Any]:
    """A pydantic model's pickle state (``BaseModel.__getstate__``) without its API key, the named
    fields (injected HTTP clients) and its private attributes (the live clients): pickles go to
    caches, queues and other hosts, and the key must never travel in them. The receiving process
    takes the key from ``A2AGENT_API_KEY``, as a model built without one does."""
    fields = dict(state["__dict__"])
    fields["api_key"] = None
    for name in drop:
        fields[name] = None
    return {**state, "__dict__": fields, "__pydantic_private__": None}


def memo_sharing(model: Any, memo: dict[int, Any] | None, fields: tuple[str, ...] = ()) -> dict[int, Any]:
    """A ``copy.deepcopy`` memo under which a model's live objects are shared, not copied: its
    private attributes (the clients: locks, connection pools) and the named fields (injected HTTP
    clients). Everything else is copied as usual; the copy talks to the same gateway."""
    memo = {} if memo is None else memo
    live = [*(getattr(model, "__pydantic_private__", None) or {}).values(),
            *(getattr(model, name) for name in fields)]
    for value in live:
        if value is not None:
            memo[id(value)] = value
    return memo
