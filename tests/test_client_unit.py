"""Core client over httpx.MockTransport: headers, config, errors, retries, streaming (sync and async)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

import a2agent
from a2agent import (
    A2AgentClient,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    UnprocessableEntityError,
)
from tests.conftest import Api

KEY = "sk-unit-SECRET-1234567890"
PAYLOAD = {"model": "glm-5", "messages": [{"role": "user", "content": "hi"}]}
COMPLETION = {"id": "x", "object": "chat.completion", "created": 1, "model": "glm-5",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}
SSE_OK = (b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"o"},"finish_reason":null}]}\n\n'
          b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"k"},"finish_reason":"stop"}]}\n\n'
          b"data: [DONE]\n\n")


class Flaky(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that yields ``parts`` then fails like a dropped connection."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts
        raise httpx.ReadError("connection reset")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for p in self.parts:
            yield p
        raise httpx.ReadError("connection reset")


class Server:
    """Scripted MockTransport: each request takes the next response (or exception) in ``script``."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        if callable(item):
            return item(request)  # type: ignore[no-any-return]
        return item  # type: ignore[no-any-return]


def make(mode: str, server: Server, **kwargs: Any) -> Api:
    transport = httpx.MockTransport(server)
    http_client: Any = httpx.Client(transport=transport) if mode == "sync" else httpx.AsyncClient(transport=transport)
    kwargs.setdefault("retry_policy", RetryPolicy(random=lambda: 0.0))
    kwargs.setdefault("limiter", False)  # the retry policy itself; the limiter has its own tests
    return Api(mode, api_key=KEY, base_url="https://gw.test/v1", http_client=http_client, **kwargs)


def ok(body: Any = COMPLETION, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


async def test_request_shape_and_headers(mode: str) -> None:
    server = Server(ok())
    api = make(mode, server, default_headers={"X-Team": "core"})
    payload = json.loads(json.dumps(PAYLOAD))
    assert (await api.chat(payload, headers={"X-Trace": "1"}))["choices"][0]["message"]["content"] == "ok"
    req = server.requests[0]
    assert (req.method, str(req.url)) == ("POST", "https://gw.test/v1/chat/completions")
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["user-agent"].startswith("a2agent-python/")
    assert (req.headers["x-team"], req.headers["x-trace"]) == ("core", "1")
    assert json.loads(req.content) == PAYLOAD
    assert payload == PAYLOAD  # never mutated


async def test_per_request_timeout(mode: str) -> None:
    server = Server(ok())
    api = make(mode, server, timeout=30)
    await api.chat(PAYLOAD)
    await api.chat(PAYLOAD, timeout=2.5)
    assert server.requests[0].extensions["timeout"]["read"] == 30
    assert server.requests[1].extensions["timeout"]["read"] == 2.5


def test_env_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A2AGENT_API_KEY", KEY)
    monkeypatch.setenv("A2AGENT_BASE_URL", "http://127.0.0.1:9/v1/")
    client = A2AgentClient()
    assert client.base_url == "http://127.0.0.1:9/v1"
    assert client.config.api_key == KEY
    assert A2AgentClient(api_key="sk-other-0123456789abc", base_url="https://x.test/v1").base_url == "https://x.test/v1"


def test_default_base_url() -> None:
    assert A2AgentClient(api_key=KEY).base_url == "https://api.a2agent.me/v1"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"api_key": None}, "A2AGENT_API_KEY"),
        ({"api_key": KEY, "base_url": "ftp://x"}, "base_url"),
        ({"api_key": KEY, "timeout": -1}, "timeout"),
        ({"api_key": KEY, "timeout": "soon"}, "timeout"),
        ({"api_key": KEY, "max_retries": -1}, "max_retries"),
        ({"api_key": KEY, "api_format": "soap"}, "api_format"),
        ({"api_key": KEY, "timeout": float("inf")}, "timeout"),
        ({"api_key": KEY, "timeout": float("nan")}, "timeout"),
        ({"api_key": KEY, "default_headers": {"X": 1}}, "default_headers"),
        ({"api_key": KEY, "default_headers": {"X": "a\nb"}}, "default_headers"),
        ({"api_key": KEY, "base_url": "api.a2agent.me/v1"}, "base_url"),
        ({"api_key": "   "}, "A2AGENT_API_KEY"),
        ({"api_key": "sk-short"}, "at least 16"),
        ({"api_key": KEY[:5] + "\x00" + KEY[5:]}, "control character"),
        ({"api_key": KEY[:5] + " " + KEY[5:]}, "whitespace"),
        ({"api_key": KEY + "é"}, "non-ASCII"),
        ({"api_key": 1234567890123456789}, "must be a string"),
    ],
    ids=["no_key", "bad_url", "negative_timeout", "str_timeout", "negative_retries", "bad_format", "inf_timeout",
         "nan_timeout", "header_not_str", "header_newline", "url_without_scheme", "blank_key", "short_key",
         "key_control_char", "key_inner_space", "key_non_ascii", "key_not_str"],
)
def test_bad_configuration(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match) as info:
        A2AgentClient(**kwargs)
    assert KEY[5:] not in str(info.value) and KEY[5:] not in repr(info.value.args)


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\t\n"], ids=["lf", "crlf", "space", "tab_lf"])
def test_key_read_from_a_file_is_stripped(suffix: str) -> None:
    assert A2AgentClient(api_key=f" {KEY}{suffix}").config.api_key == KEY


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ([], "mapping"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": ["hi"]}, r"messages\[0\] must be a dict"),
        ({"model": "m", "messages": [{"role": "bot", "content": "x"}]}, r"messages\[0\].role"),
        ({"model": "m", "messages": [{"role": "user", "content": 3}]}, r"messages\[0\].content must be a string"),
        ({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": None}]}]},
         r"messages\[0\].content\[0\].text must be a string, got None"),
        ({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 123}]}]},
         r"messages\[0\].content\[0\].text must be a string, got int"),
        ({"model": "m", "messages": [{"role": "user", "content": ["x"]}]},
         r"messages\[0\].content\[0\] must be a dict"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "metadata": {"k": object()}},
         r"payload\['metadata'\]\['k'\] is not JSON-serializable"),
        ({"model": "m", "messages": [{"role": "user", "content": "a\ud800"}]},
         r"payload\['messages'\]\[0\]\['content'\] cannot be encoded as UTF-8"),
    ],
    ids=["not_mapping", "no_model", "empty_messages", "message_not_dict", "bad_role", "content_not_str",
         "text_part_none", "text_part_int", "part_not_dict", "not_json", "lone_surrogate"],
)
async def test_bad_payload_raises_before_sending(mode: str, payload: Any, match: str) -> None:
    server = Server(ok())
    api = make(mode, server)
    with pytest.raises(InvalidInputError, match=match):
        await api.chat(payload)
    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError), (404, NotFoundError),
     (409, ConflictError), (422, UnprocessableEntityError), (429, RateLimitError), (500, InternalServerError),
     (529, InternalServerError), (418, APIStatusError)],
    ids=lambda v: str(v) if isinstance(v, int) else v.__name__,
)
async def test_status_error_classes(mode: str, status: int, cls: type[APIStatusError]) -> None:
    body = {"error": {"message": "nope", "type": "t", "code": "c"}}
    api = make(mode, Server(ok(body, status, {"x-request-id": "req-9"})), max_retries=0)
    with pytest.raises(cls) as info:
        await api.chat(PAYLOAD)
    err = info.value
    assert type(err) is cls
    assert (err.status_code, err.request_id, err.body, err.code) == (status, "req-9", body, "c")
    assert "nope" in str(err) and str(status) in str(err)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "Overloaded"),
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
        ({"detail": "weird shape"}, "weird shape"),
    ],
    ids=["anthropic_body", "html_body", "detail_body"],
)
async def test_lenient_error_bodies(mode: str, body: Any, message: str) -> None:
    api = make(mode, Server(ok(body, 502)), max_retries=0)
    with pytest.raises(InternalServerError, match=message):
        await api.chat(PAYLOAD)


async def test_key_never_leaks(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    echo = {"error": {"message": f"Invalid API key: {KEY}", "param": KEY}}
    api = make(mode, Server(ok(echo, 503), ok(echo, 401)))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthenticationError) as info:
        await api.chat(PAYLOAD)
    err = info.value
    for text in (str(err), repr(err), json.dumps(err.body), caplog.text, repr(api.client), repr(api.client.config)):
        assert KEY not in text
    assert "***" in str(err)


async def test_retries_5xx_then_succeeds_with_backoff(mode: str) -> None:
    server = Server(ok({}, 503), ok({}, 502), ok())
    api = make(mode, server)
    assert (await api.chat(PAYLOAD))["id"] == "x"
    assert len(server.requests) == 3
    assert api.sleeps == [0.5, 1.0]


async def test_retry_after_headers_are_honoured(mode: str) -> None:
    server = Server(ok(RATE_BODY, 429, {"retry-after-ms": "120"}), ok(RATE_BODY, 429, {"retry-after": "2"}), ok())
    api = make(mode, server)
    await api.chat(PAYLOAD)
    assert api.sleeps == [0.12, 2.0]


RATE_BODY = {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}


async def test_gives_up_after_max_retries(mode: str) -> None:
    server = Server(ok({}, 500))
    api = make(mode, server, max_retries=3)
    with pytest.raises(InternalServerError):
        await api.chat(PAYLOAD)
    assert len(server.requests) == 4
    assert api.sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, {}), (401, {}), (403, {}), (404, {}), (422, {}),
     (429, {"error": {"message": "Insufficient balance", "code": "insufficient_balance"}})],
    ids=["400", "401", "403", "404", "422", "429_quota"],
)
async def test_not_retried(mode: str, status: int, body: Any) -> None:
    server = Server(ok(body, status))
    api = make(mode, server)
    with pytest.raises(APIStatusError):
        await api.chat(PAYLOAD)
    assert len(server.requests) == 1 and api.sleeps == []


@pytest.mark.parametrize(
    ("exc", "cls"),
    [(httpx.ConnectError("refused"), APIConnectionError), (httpx.ReadTimeout("slow"), APITimeoutError),
     (httpx.RemoteProtocolError("eof"), APIConnectionError)],
    ids=["connect", "timeout", "protocol"],
)
async def test_connection_errors_retried_then_typed(mode: str, exc: Exception, cls: type[Exception]) -> None:
    server = Server(exc)
    api = make(mode, server, max_retries=2)
    with pytest.raises(cls):
        await api.chat(PAYLOAD)
    assert len(server.requests) == 3 and api.sleeps == [0.5, 1.0]


async def test_connection_error_then_success(mode: str) -> None:
    server = Server(httpx.ConnectError("refused"), ok())
    assert (await make(mode, server).chat(PAYLOAD))["id"] == "x"


def sse(body: bytes = SSE_OK) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


async def test_stream_sends_stream_flag_and_accept(mode: str) -> None:
    server = Server(sse())
    api = make(mode, server)
    chunks = await api.stream({**PAYLOAD, "stream_options": {"include_usage": True}})
    assert [c["choices"][0]["delta"]["content"] for c in chunks] == ["o", "k"]
    body = json.loads(server.requests[0].content)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert server.requests[0].headers["accept"] == "text/event-stream"


async def test_non_stream_request_drops_stream_options(mode: str) -> None:
    server = Server(ok())
    await make(mode, server).chat({**PAYLOAD, "stream": True, "stream_options": {"include_usage": True}})
    body = json.loads(server.requests[0].content)
    assert "stream" not in body and "stream_options" not in body


async def test_stream_final_completion(mode: str) -> None:
    final = await make(mode, Server(sse())).stream_final(PAYLOAD)
    assert final["choices"][0]["message"]["content"] == "ok"
    assert final["choices"][0]["finish_reason"] == "stop"


async def test_stream_retried_before_first_event(mode: str) -> None:
    server = Server(ok({}, 503), httpx.Response(200, stream=Flaky([])), sse())
    api = make(mode, server)
    assert len(await api.stream(PAYLOAD)) == 2
    assert len(server.requests) == 3


async def test_stream_never_retried_after_first_event(mode: str) -> None:
    first = b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"o"}}]}\n\n'
    server = Server(httpx.Response(200, stream=Flaky([first])), sse())
    api = make(mode, server)
    got: list[Any] = []
    with pytest.raises(APIConnectionError):
        if mode == "sync":
            with api.client.stream_chat_completions(PAYLOAD) as s:
                got.extend(s)
        else:
            async with api.client.stream_chat_completions(PAYLOAD) as s:
                async for c in s:
                    got.append(c)
    assert len(got) == 1 and len(server.requests) == 1


async def test_stream_error_status_is_typed(mode: str) -> None:
    api = make(mode, Server(ok({"error": {"message": "bad model"}}, 404)))
    with pytest.raises(NotFoundError, match="bad model"):
        await api.stream(PAYLOAD)


async def test_list_models(mode: str) -> None:
    server = Server(ok({"object": "list", "data": [{"id": "glm-5", "object": "model", "owned_by": "zhipu"}]}))
    models = await make(mode, server).models()
    assert [m["id"] for m in models] == ["glm-5"]
    assert (server.requests[0].method, server.requests[0].url.path) == ("GET", "/v1/models")


def test_injected_http_client_is_not_closed() -> None:
    http = httpx.Client(transport=httpx.MockTransport(Server(ok())))
    with A2AgentClient(api_key=KEY, http_client=http) as client:
        client.chat_completions(PAYLOAD)
    assert not http.is_closed




def test_scrubbed_keys_are_forgotten_with_the_last_client_holding_them() -> None:
    import gc

    from a2agent._errors import _SECRETS

    key = "sk-short-lived-0123456789abcdef"
    first, second = A2AgentClient(api_key=key), A2AgentClient(api_key=key)
    assert key in _SECRETS
    del first
    gc.collect()
    assert key in _SECRETS  # the second client still holds it
    assert "***" in str(a2agent.APIConnectionError(f"echo {key}"))
    del second
    gc.collect()
    assert key not in _SECRETS
