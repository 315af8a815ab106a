"""Errors that say enough (contract l, m): method, URL and attempt count on every HTTP/connection
error, a hint for a base URL whose path is not /v1, the httpx cause kept (scrubbed), decoding and local
protocol errors typed and never retried."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import a2agent
from a2agent import (
    A2AgentError,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
)
from tests.faults.helpers import KEY, PAYLOAD, answer, make_api, ok_reply, run, run_raises
from tests.faults.server import FaultServer, closed_port, hang_before_headers, json_reply, respond, sse_reply

Hunt = Callable[..., None]
CHAT_PATHS = {"openai": "/chat/completions", "anthropic": "/messages"}


def assert_says_enough(exc: Any, method: str, url: str, attempts: int) -> None:
    assert (exc.method, exc.url, exc.attempts) == (method, url, attempts)
    assert isinstance(exc.attempts, int)
    message = str(exc)
    assert url in message, f"the message should name the URL: {message!r}"
    assert re.search(rf"\b{attempts}\b", message) and "attempt" in message.lower(), \
        f"the message should give the attempt count ({attempts}): {message!r}"


# -- (l) method / url / attempts ----------------------------------------------------------------
@pytest.mark.parametrize("max_retries", [0, 2])
def test_exhausted_5xx_says_method_url_attempts(mode: str, fmt: str, kind: str, max_retries: int,
                                                server: FaultServer, hunt: Hunt) -> None:
    server.always(json_reply({"error": {"message": "upstream exploded"}}, 502))
    api = make_api(mode, server, fmt, max_retries=max_retries)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, InternalServerError), repr(exc)
    assert_says_enough(exc, "POST", server.base_url + CHAT_PATHS[fmt], max_retries + 1)
    assert server.request_count == max_retries + 1
    assert "upstream exploded" in str(exc)
    hunt(exc)


def test_not_retried_status_has_one_attempt(mode: str, fmt: str, kind: str, server: FaultServer,
                                            hunt: Hunt) -> None:
    server.always(json_reply({"error": {"message": "bad model"}}, 400))
    api = make_api(mode, server, fmt, max_retries=3)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, BadRequestError), repr(exc)
    assert_says_enough(exc, "POST", server.base_url + CHAT_PATHS[fmt], 1)
    hunt(exc)


def test_retried_then_failed_differently_counts_every_attempt(mode: str, server: FaultServer, hunt: Hunt) -> None:
    server.script(json_reply({}, 503), json_reply({}, 503), json_reply({"error": {"message": "no"}}, 401))
    api = make_api(mode, server, max_retries=5)
    exc = run_raises(api, lambda a: answer(a, "json"))
    assert isinstance(exc, AuthenticationError), repr(exc)
    assert_says_enough(exc, "POST", server.base_url + "/chat/completions", 3)
    hunt(exc)


def test_list_models_error_says_get(mode: str, server: FaultServer, hunt: Hunt) -> None:
    server.always(json_reply({"error": {"message": "no"}}, 401))
    api = make_api(mode, server)
    exc = run_raises(api, lambda a: a.models())
    assert isinstance(exc, AuthenticationError), repr(exc)
    assert_says_enough(exc, "GET", server.base_url + "/models", 1)
    hunt(exc)


@pytest.mark.parametrize("body", [{"error": {"message": "Not Found"}}, "404 page not found", ""],
                         ids=["json", "text", "empty"])
def test_404_without_v1_hints_at_v1(mode: str, fmt: str, kind: str, body: Any, server: FaultServer,
                                    hunt: Hunt) -> None:
    server.always(respond(404, body, content_type="text/plain" if isinstance(body, str) else "application/json"))
    api = make_api(mode, server, fmt, base_url=server.origin)  # forgot the /v1
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, NotFoundError), repr(exc)
    assert server.requests[0].path == CHAT_PATHS[fmt]
    assert "/v1" in str(exc), f"a 404 on a base URL without /v1 should hint at it: {exc}"
    assert server.request_count == 1
    hunt(exc)


@pytest.mark.parametrize(("suffix", "hint"), [
    ("/v1/chat/completions", "the base URL includes the endpoint /chat/completions, which the client appends"),
    ("/chat/completions", "the base URL includes the endpoint /chat/completions, which the client appends"),
    ("/v1/messages", "the base URL includes the endpoint /messages, which the client appends"),
    ("/api/v1", "the A2Agent base URL's path is /v1, not /api/v1"),
], ids=["v1-endpoint", "endpoint", "v1-messages", "api-v1"])
def test_404_on_a_base_url_of_another_form_names_the_expected_one(mode: str, fmt: str, kind: str, suffix: str,
                                                                   hint: str, server: FaultServer,
                                                                   hunt: Hunt) -> None:
    """A copied endpoint or another prefix: the client appends the endpoint to the base URL as given."""
    server.always(json_reply({"error": {"message": "Not Found"}}, 404))
    api = make_api(mode, server, fmt, base_url=server.origin + suffix)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, NotFoundError), repr(exc)
    assert server.requests[0].path == suffix + CHAT_PATHS[fmt]
    assert f"Error code: 404 - Not Found ({hint}" in str(exc)
    assert "e.g. https://api.a2agent.me/v1)" in str(exc)
    assert_says_enough(exc, "POST", server.origin + suffix + CHAT_PATHS[fmt], 1)
    assert server.request_count == 1
    hunt(exc)


def test_base_url_hint_quotes_a_scrubbed_path(mode: str, server: FaultServer, hunt: Hunt) -> None:
    server.always(json_reply({"error": {"message": "Not Found"}}, 404))
    api = make_api(mode, server, base_url=f"{server.origin}/{KEY}/v1")  # the key pasted into the URL by mistake
    exc = run_raises(api, lambda a: answer(a, "json"))
    assert isinstance(exc, NotFoundError), repr(exc)
    assert "the A2Agent base URL's path is /v1, not /***/v1" in str(exc)
    hunt(exc)


def test_404_with_v1_does_not_blame_the_base_url(mode: str, server: FaultServer) -> None:
    server.always(json_reply({"error": {"message": "The model `nope` does not exist"}}, 404))
    api = make_api(mode, server)
    exc = run_raises(api, lambda a: answer(a, "json"))
    assert isinstance(exc, NotFoundError) and "does not exist" in str(exc)


def test_connection_refused_names_url_and_keeps_cause(mode: str, fmt: str, kind: str, hunt: Hunt) -> None:
    with closed_port() as port:
        base_url = f"http://127.0.0.1:{port}/v1"
        api = make_api(mode, None, fmt, base_url=base_url, max_retries=2)
        exc = run_raises(api, lambda a: answer(a, kind))
    assert type(exc) is APIConnectionError, repr(exc)
    assert_says_enough(exc, "POST", base_url + CHAT_PATHS[fmt], 3)
    assert len(api.sleeps) == 2
    assert isinstance(exc.__cause__, httpx.TransportError), repr(exc.__cause__)
    hunt(exc)  # includes: the cause carries no request with the Authorization header


def test_read_timeout_is_typed_with_details(mode: str, fmt: str, kind: str, server: FaultServer,
                                            hunt: Hunt) -> None:
    server.always(hang_before_headers())
    api = make_api(mode, server, fmt, timeout=0.3, max_retries=0)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, APITimeoutError), repr(exc)
    assert_says_enough(exc, "POST", server.base_url + CHAT_PATHS[fmt], 1)
    assert isinstance(exc.__cause__, httpx.TimeoutException), repr(exc.__cause__)
    hunt(exc)


# -- (m) decoding errors and local protocol errors ----------------------------------------------------
class Raising:
    """A MockTransport handler that raises ``exc`` and counts calls."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        raise self.exc


def test_injected_client_decoding_error_is_typed_not_retried(mode: str, kind: str, hunt: Hunt) -> None:
    handler = Raising(httpx.DecodingError("Error -3 while decompressing data: incorrect header check"))
    transport = httpx.MockTransport(handler)
    http_client: Any = httpx.Client(transport=transport) if mode == "sync" else httpx.AsyncClient(transport=transport)
    api = make_api(mode, None, base_url="http://gw.test/v1", http_client=http_client)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, a2agent.APIResponseError), repr(exc)
    assert handler.calls == 1 and api.sleeps == []
    hunt(exc)


def test_undecodable_body_from_the_wire_is_typed_not_retried(mode: str, fmt: str, kind: str, server: FaultServer,
                                                             hunt: Hunt) -> None:
    garbage = b"\x00this is not gzip\xff" * 4
    if kind == "json":
        server.always(respond(200, garbage, headers={"Content-Encoding": "gzip"}))
    else:
        server.always(sse_reply(garbage, garbage, headers={"Content-Encoding": "gzip"}))
    api = make_api(mode, server, fmt)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, a2agent.APIResponseError), repr(exc)
    assert server.request_count == 1 and api.sleeps == []
    hunt(exc)


@pytest.mark.parametrize("value", ["naïve ☃", "a\r\nInjected: yes", "a\nb", "nul\x00byte"],
                         ids=["non_ascii", "crlf_injection", "lf", "nul"])
@pytest.mark.parametrize("where", ["default_headers", "per_request"])
def test_unsendable_header_is_typed_and_never_retried(mode: str, kind: str, where: str, value: str,
                                                      server: FaultServer, hunt: Hunt) -> None:
    server.always(ok_reply("openai", kind))
    try:
        if where == "default_headers":
            api = make_api(mode, server, default_headers={"X-Note": value})
        else:
            api = make_api(mode, server)
    except A2AgentError as exc:  # refusing it at construction is fine
        assert isinstance(exc, a2agent.InvalidInputError), repr(exc)
        hunt(exc)
        return
    headers = {"X-Note": value} if where == "per_request" else None
    exc = run_raises(api, lambda a: answer(a, kind, PAYLOAD, headers=headers) if headers else answer(a, kind))
    assert isinstance(exc, A2AgentError), f"expected a typed a2agent error, got {exc!r}"
    assert not isinstance(exc, APIStatusError)
    assert api.sleeps == [], "a local protocol error must not be retried"
    assert server.request_count == 0
    hunt(exc)


def test_good_request_after_a_local_error_still_works(mode: str, server: FaultServer) -> None:
    server.always(ok_reply("openai", "json"))
    api = make_api(mode, server)

    async def action(a: Any) -> str:
        with contextlib.suppress(Exception):
            await answer(a, "json", PAYLOAD, headers={"X-Note": "a\r\nb"})
        return await answer(a, "json")

    assert run(api, action) == "ok"
