"""Security: the API key never appears in any raised error, log record or warning (contract a-f).

Every error test ends with ``hunt(exc)``: the exhaustive search of ``helpers.assert_no_key``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import a2agent
from a2agent import (
    A2AgentClient,
    AsyncA2AgentClient,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
    UnprocessableEntityError,
)
from tests.faults.helpers import (
    KEY,
    PAYLOAD,
    answer,
    collect,
    error_event,
    head_events,
    make_api,
    ok_reply,
    run,
    run_raises,
    text_of,
)
from tests.faults.server import FaultServer, Request, Step, json_reply, respond, sse_reply

Hunt = Callable[..., None]


# -- (a) error events inside a 200 stream --------------------------------------------------------
@pytest.mark.parametrize("position", ["first", "after_content"])
def test_stream_error_event_is_typed_and_scrubbed(mode: str, fmt: str, position: str, server: FaultServer,
                                                   hunt: Hunt) -> None:
    head = head_events(fmt) if position == "after_content" else []
    server.always(sse_reply(*head, error_event(fmt, f"bad key {KEY}")))
    api = make_api(mode, server, fmt)
    sink: list[Any] = []
    exc = run_raises(api, lambda a: collect(a, sink))
    assert isinstance(exc, StreamError), repr(exc)
    assert isinstance(exc, a2agent.APIResponseError), "StreamError must subclass APIResponseError"
    assert "bad key" in str(exc)
    assert text_of(sink) == ("ok" if head else "")
    hunt(exc)


def test_stream_error_is_an_api_response_error() -> None:
    assert issubclass(StreamError, a2agent.APIResponseError)
    assert issubclass(a2agent.APIResponseError, a2agent.A2AgentError)
    assert "APIResponseError" in a2agent.__all__


# -- (b) malformed stream events that contain the key --------------------------------------------
def _malformed(fmt: str, variant: str) -> str:
    pad = "x" * 185  # puts the key across a 200-character cut
    if fmt == "openai":
        return {
            "truncated_json": f'data: {{"choices": [{{"delta": {{"content": "{KEY}"\n\n',
            "not_an_object": f"data: {json.dumps(KEY)}\n\n",
            "key_across_cut": f'data: {{"pad": "{pad}", "k": "{KEY}", \n\n',
        }[variant]
    return {
        "truncated_json": f'event: content_block_delta\ndata: {{"type": "content_block_delta", "delta": "{KEY}"\n\n',
        "not_an_object": f"event: content_block_delta\ndata: [{json.dumps(KEY)}, \n\n",
        "key_across_cut": f'event: message_start\ndata: {{"type": "message_start", "pad": "{pad}", "k": "{KEY}"\n\n',
    }[variant]


@pytest.mark.parametrize("variant", ["truncated_json", "not_an_object", "key_across_cut"])
def test_malformed_stream_event_is_scrubbed(mode: str, fmt: str, variant: str, server: FaultServer,
                                            hunt: Hunt) -> None:
    server.always(sse_reply(*head_events(fmt), _malformed(fmt, variant)))
    api = make_api(mode, server, fmt)
    exc = run_raises(api, lambda a: collect(a, []))
    assert isinstance(exc, StreamError), repr(exc)
    hunt(exc)


# -- (c) a 200 JSON body that is not a chat completion -------------------------------------------
@pytest.mark.parametrize("body", [{"detail": f"token {KEY} is invalid"}, [f"token {KEY}"], f"token {KEY} is invalid"],
                         ids=["detail", "list", "text"])
def test_non_completion_200_is_api_response_error(mode: str, fmt: str, kind: str, body: Any, server: FaultServer,
                                                  hunt: Hunt) -> None:
    content_type = "text/plain" if isinstance(body, str) else "application/json"
    server.always(respond(200, body, content_type=content_type))
    api = make_api(mode, server, fmt)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, a2agent.APIResponseError), repr(exc)
    hunt(exc)


# -- (d) error statuses whose body and headers echo the Authorization header ---------------------
def _echo(status: int, as_text: bool = False) -> Callable[[Request], list[Step]]:
    def reply(request: Request) -> list[Step]:
        auth = request.headers.get("authorization", "")
        headers = [("x-echo", auth), ("www-authenticate", f'Bearer error="invalid_token", key="{KEY}"'),
                   ("set-cookie", f"session={KEY}; Path=/"), ("x-request-id", "req-42")]
        if as_text:
            return respond(status, f"Unauthorized: {auth}\nheaders: {request.raw_headers}", headers=headers,
                           content_type="text/plain")
        body = {"error": {"message": f"Invalid API key: {auth}", "param": KEY, "code": "invalid_api_key",
                          "echo": {"headers": request.headers, "key": [KEY]}}}
        return json_reply(body, status, headers=headers)

    return reply


STATUS_CLASSES = {400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
                  422: UnprocessableEntityError, 429: RateLimitError, 500: InternalServerError,
                  503: InternalServerError}


@pytest.mark.parametrize("as_text", [False, True], ids=["json", "text"])
@pytest.mark.parametrize("status", sorted(STATUS_CLASSES))
def test_status_error_echoing_the_key_is_scrubbed(mode: str, fmt: str, kind: str, status: int, as_text: bool,
                                                  server: FaultServer, hunt: Hunt) -> None:
    server.always(_echo(status, as_text))
    api = make_api(mode, server, fmt, max_retries=1)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, STATUS_CLASSES[status]), repr(exc)
    assert exc.status_code == status
    assert exc.request_id == "req-42"  # scrubbing the echo headers keeps the others
    hunt(exc)


# -- (e) key hygiene at construction -------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_trailing_newline_is_stripped(mode: str, kind: str, suffix: str, server: FaultServer) -> None:
    server.always(ok_reply("openai", kind))
    api = make_api(mode, server, api_key=KEY + suffix)
    assert run(api, lambda a: answer(a, kind)) == "ok"
    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {KEY}"]
    assert [v for n, v in server.requests[0].raw_headers if n.lower() == "authorization"] == [f"Bearer {KEY}"]


def test_trailing_newline_from_the_environment_is_stripped(mode: str, server: FaultServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("A2AGENT_API_KEY", KEY + "\n")
    server.always(ok_reply("openai", "json"))
    api = make_api(mode, server, api_key=None)
    assert run(api, lambda a: answer(a, "json")) == "ok"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


BAD_KEYS = {
    "inner_nul": KEY[:15] + "\x00" + KEY[15:],
    "inner_newline": KEY[:15] + "\n" + KEY[15:],
    "inner_cr": KEY[:15] + "\r" + KEY[15:],
    "inner_tab": KEY[:15] + "\t" + KEY[15:],
    "inner_del": KEY[:15] + "\x7f" + KEY[15:],
    "inner_space": KEY[:15] + " " + KEY[15:],
    "inner_nbsp": KEY[:15] + "\u00a0" + KEY[15:],
    "non_ascii_letter": KEY[:15] + "\u00e9" + KEY[15:],
    "zero_width_space": KEY[:15] + "\u200b" + KEY[15:],
    "short_8": "sk-short",
    "short_15": "sk-abcdefghijkl",
}


@pytest.mark.parametrize("client_cls", [A2AgentClient, AsyncA2AgentClient], ids=["sync", "async"])
@pytest.mark.parametrize("bad", list(BAD_KEYS.values()), ids=list(BAD_KEYS))
def test_bad_key_rejected_at_construction(client_cls: type, bad: str, server: FaultServer, hunt: Hunt) -> None:
    assert len(BAD_KEYS["short_15"]) == 15
    with pytest.raises(InvalidInputError) as info:
        client_cls(api_key=bad, base_url=server.base_url)
    hunt(info.value)
    hunt(info.value, key=bad)
    assert server.request_count == 0


def test_sixteen_char_key_is_accepted(mode: str, server: FaultServer) -> None:
    key16 = "sk-abcdefghijklm"
    assert len(key16) == 16
    server.always(ok_reply("openai", "json"))
    api = make_api(mode, server, api_key=key16)
    assert run(api, lambda a: answer(a, "json")) == "ok"
    assert server.requests[0].headers["authorization"] == f"Bearer {key16}"


# -- (f) scrubbing only ever touches the key ------------------------------------------------------
LOOKALIKE = "sk-PLANTED-ABCDEFGHIJKLMNOPQRSTUVWX"  # same shape, not our key: must survive
TAIL = "; send it as 'Authorization: Bearer <token>' (see https://docs.a2agent.me/errors#401) 余额不足 ***"


def test_scrubbing_keeps_everything_but_the_key(mode: str, fmt: str, kind: str, server: FaultServer,
                                                hunt: Hunt) -> None:
    body = {"error": {"message": f"Invalid key {KEY}{TAIL}", "code": "invalid_api_key", "param": None,
                      "other": LOOKALIKE, "n": 3, "nested": [{"k": KEY, "v": "Bearer x"}]}}
    server.always(json_reply(body, 401, headers={"x-echo": f"Bearer {KEY}", "x-lookalike": LOOKALIKE,
                                                 "x-request-id": "req-7"}))
    api = make_api(mode, server, fmt)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, AuthenticationError), repr(exc)
    hunt(exc)
    err = exc.body["error"]
    assert err["message"].startswith("Invalid key ") and err["message"].endswith(TAIL)
    assert (err["code"], err["param"], err["other"], err["n"]) == ("invalid_api_key", None, LOOKALIKE, 3)
    assert err["nested"][0]["v"] == "Bearer x" and set(err["nested"][0]) == {"k", "v"}
    assert exc.code == "invalid_api_key" and exc.request_id == "req-7"
    assert "Authorization: Bearer <token>" in str(exc)
    headers = {k.lower(): v for k, v in exc.headers.items()}
    assert headers["x-lookalike"] == LOOKALIKE
    if "x-echo" in headers:
        assert headers["x-echo"].startswith("Bearer ")


def test_bodies_without_the_key_are_untouched(mode: str, fmt: str, kind: str, server: FaultServer) -> None:
    body = {"error": {"message": f"Bad request: 'Bearer' is a word, {LOOKALIKE} is not ours, *** stays",
                      "type": "invalid_request_error", "param": "messages[0]", "code": None}}
    server.always(json_reply(body, 400, headers={"x-custom": "Bearer tokens are fine", "x-request-id": "r-1"}))
    api = make_api(mode, server, fmt)
    exc = run_raises(api, lambda a: answer(a, kind))
    assert isinstance(exc, BadRequestError), repr(exc)
    assert exc.body == body
    assert {k.lower(): v for k, v in exc.headers.items()}["x-custom"] == "Bearer tokens are fine"
    assert body["error"]["message"] in str(exc)


def test_stream_error_scrubbing_keeps_the_rest(mode: str, fmt: str, server: FaultServer, hunt: Hunt) -> None:
    server.always(sse_reply(error_event(fmt, f"bad key {KEY}, retry later ({LOOKALIKE})")))
    api = make_api(mode, server, fmt)
    exc = run_raises(api, lambda a: collect(a, [], PAYLOAD))
    assert isinstance(exc, StreamError), repr(exc)
    hunt(exc)
    assert "bad key " in str(exc) and f", retry later ({LOOKALIKE})" in str(exc)


# -- guards of the hunt itself (a key no client ever registered, plain exception classes) ---------
GUARD_KEY = "sk-GUARDKEY-" + "ZyXwVuTsRqPoNmLkJiHgFeDc"


class _Holder(Exception):
    def __init__(self, message: str, body: Any) -> None:
        super().__init__(message)
        self.body = body


def test_hunt_finds_a_key_deep_in_an_attribute(hunt: Hunt) -> None:
    err = _Holder("x", body={"a": [{"b": ("c", GUARD_KEY.encode())}]})
    with pytest.raises(AssertionError, match="leaked"):
        hunt(err, key=GUARD_KEY)


def test_hunt_walks_the_cause_chain_and_httpx_requests(hunt: Hunt) -> None:
    """A key hidden in an httpx exception's request headers, one link down the chain, is found."""
    import httpx

    request = httpx.Request("POST", "http://127.0.0.1:9/v1", headers={"Authorization": f"Bearer {GUARD_KEY}"})
    try:
        try:
            raise httpx.ConnectError("refused", request=request)
        except httpx.ConnectError as exc:
            raise RuntimeError("Connection error.") from exc
    except RuntimeError as outer:
        with pytest.raises(AssertionError, match="leaked"):
            hunt(outer, key=GUARD_KEY)
