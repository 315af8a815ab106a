"""The emulator's Starlette app: auth, rate limits, script/fault handling, and the routes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .._catalog import MODEL_PROFILES
from .._errors import InvalidInputError
from .._tokens import token_counter
from ._anthropic import encode_event, render_events, render_message, to_canonical
from ._anthropic import error_body as anthropic_error_body
from ._model import Planner, apply_limits, scripted_reply, text_of
from ._openai import RequestError, render_chunks, render_completion, usage_for, validate_request
from ._state import EmulatorState

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class SimulatedDisconnect(Exception):
    """Raised inside a response body to drop the connection (fault injection)."""


def _sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _request_id() -> str:
    return "req_" + format(time.time_ns(), "x")


class Emulator:
    """Builds the ASGI app over an ``EmulatorState``."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/messages", self.messages, methods=["POST"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", self.get_model, methods=["GET"]),
            Route("/_emulator/script", self.control_script, methods=["POST"]),
            Route("/_emulator/reset", self.control_reset, methods=["POST"]),
            Route("/_emulator/requests", self.control_requests, methods=["GET"]),
        ])

    # -- shared gate -----------------------------------------------------------------------------
    def _gate(self, request: Request) -> tuple[str, RequestError | None, dict[str, str]]:
        """Authenticate and rate-limit; returns (key, error, extra headers)."""
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
        status = self.state.key_status(key)
        if status in ("missing", "invalid"):
            # Never echo the key back: gateways that do leak it into client logs.
            return key, RequestError(401, "Incorrect API key provided." if key else "Missing API key.",
                                     type="authentication_error", code="invalid_api_key"), {}
        if status == "suspended":
            return key, RequestError(403, "This API key has been suspended.", type="permission_error",
                                     code="key_suspended"), {}
        if status == "no_balance":
            return key, RequestError(429, "Insufficient balance: please top up your account.",
                                     type="insufficient_quota", code="insufficient_balance"), {}
        wait = self.state.take_rate_slot(key)
        if wait is not None:
            headers = {"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(max(1, int(wait * 1000))),
                       "x-ratelimit-limit-requests": str(self.state.config.rate_limit[0])}  # type: ignore[index]
            return key, RequestError(429, "Rate limit exceeded: too many requests for this key.",
                                     type="rate_limit_error", code="rate_limit_exceeded"), headers
        return key, None, {}

    @staticmethod
    async def _hold(request: Request, seconds: float) -> None:
        """Withhold the answer ``seconds``, or until the client hangs up (a client that timed out
        leaves no handler behind, so a test can script a delay far longer than its timeout)."""
        async def hung_up() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hung_up(), seconds)

    @staticmethod
    def _error(err: RequestError, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse(err.body(), status_code=err.status,
                            headers={"x-request-id": _request_id(), **(headers or {})})

    # -- routes ----------------------------------------------------------------------------------
    async def chat_completions(self, request: Request) -> Response:
        return await self._chat(request, anthropic=False)

    async def messages(self, request: Request) -> Response:
        return await self._chat(request, anthropic=True)

    def _error_for(self, err: RequestError, anthropic: bool, headers: dict[str, str] | None = None) -> Response:
        if not anthropic:
            return self._error(err, headers)
        return JSONResponse(anthropic_error_body(err), status_code=err.status,
                            headers={"request-id": _request_id(), **(headers or {})})

    async def _chat(self, request: Request, anthropic: bool) -> Response:
        """One path for both wire formats: gate, script, validate, plan, render."""
        key, err, headers = self._gate(request)
        if err is not None:
            return self._error_for(err, anthropic, headers)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._error_for(RequestError(400, "Request body is not valid JSON.", code="invalid_json"),
                                   anthropic)
        self.state.record(request.url.path, body, dict(request.headers),
                          request.client.port if request.client else None)
        entry = self.state.next_entry()
        if entry.get("delay"):
            await self._hold(request, float(entry["delay"]))
        if "status" in entry:
            return JSONResponse(entry.get("body", {"error": {"message": "Injected fault", "type": "server_error"}}),
                                status_code=int(entry["status"]), headers=entry.get("headers"))
        try:
            canonical, profile = validate_request(to_canonical(body) if anthropic else body)
        except RequestError as exc:
            return self._error_for(exc, anthropic)
        planner = Planner(canonical, profile)
        if {"content", "tool_calls", "reasoning"} & entry.keys():
            replies = [scripted_reply(entry, planner.seed)]
        else:
            replies = [apply_limits(planner.reply(), canonical) for _ in range(canonical.get("n", 1))]
        first = canonical["messages"][0]
        try:  # the counter reads every field: what it refuses (a lone surrogate...) a gateway refuses too
            cached = self.state.cached_prefix_tokens(key, text_of(first.get("content")),
                                                     token_counter(canonical["model"]).count_message(first)) \
                if first.get("role") in ("system", "developer") else 0
            usage = usage_for(canonical, profile, replies, cached)
        except InvalidInputError as exc:  # its message starts with the field's path
            field = str(exc).split(" ", 1)[0]
            return self._error_for(RequestError(400, str(exc), code="invalid_value",
                                                param=field if field.startswith(("messages[", "tools[")) else None),
                                   anthropic)
        resp_headers = {"x-request-id": _request_id()}
        if canonical.get("stream"):
            stream = (self._stream(render_events(canonical["model"], replies[0], usage), entry, encode_event, None)
                      if anthropic else self._stream(render_chunks(canonical, replies, usage), entry))
            return StreamingResponse(stream, media_type="text/event-stream", headers={**SSE_HEADERS, **resp_headers})
        if entry.get("disconnect_after") is not None:
            return StreamingResponse(self._broken_body(), media_type="application/json", headers=resp_headers)
        rendered = (render_message(canonical["model"], replies[0], usage) if anthropic
                    else render_completion(canonical, replies, usage))
        return JSONResponse(rendered, headers=resp_headers)

    async def _stream(self, chunks: Iterator[Any], entry: dict[str, Any],
                      encode: Callable[[Any], bytes] = _sse, done: bytes | None = b"data: [DONE]\n\n"
                      ) -> AsyncIterator[bytes]:
        delay = self.state.config.chunk_delay
        cut = entry.get("disconnect_after")
        fail = entry.get("stream_error_after")
        if self.state.config.keepalive_comment:
            yield b": keep-alive\n\n"
        for sent, chunk in enumerate(chunks):
            if cut is not None and sent >= cut:
                raise SimulatedDisconnect
            if fail is not None and sent >= fail:
                yield encode({"error": entry.get("error") or {"message": "Injected stream failure",
                                                              "type": "server_error"}})
                return
            yield encode(chunk)
            if delay:
                await asyncio.sleep(delay)
        if done:
            yield done

    @staticmethod
    async def _broken_body() -> AsyncIterator[bytes]:
        yield b'{"id": "chatcmpl-'
        raise SimulatedDisconnect

    async def list_models(self, request: Request) -> Response:
        _, err, headers = self._gate(request)
        if err is not None:
            return self._error(err, headers)
        return JSONResponse({"object": "list", "data": [
            {"id": p.id, "object": "model", "created": 1767225600, "owned_by": p.owned_by}
            for p in MODEL_PROFILES.values()]})

    async def get_model(self, request: Request) -> Response:
        _, err, headers = self._gate(request)
        if err is not None:
            return self._error(err, headers)
        profile = MODEL_PROFILES.get(request.path_params["model_id"])
        if profile is None:
            return self._error(RequestError(404, "Model not found.", code="model_not_found"))
        return JSONResponse({"id": profile.id, "object": "model", "created": 1767225600,
                             "owned_by": profile.owned_by})

    # -- control plane (tests, notebooks) --------------------------------------------------------
    async def control_script(self, request: Request) -> Response:
        entries = json.loads(await request.body())
        self.state.script(*(entries if isinstance(entries, list) else [entries]))
        return JSONResponse({"pending": self.state.pending()})

    async def control_reset(self, request: Request) -> Response:
        self.state.reset()
        return JSONResponse({"pending": 0})

    async def control_requests(self, request: Request) -> Response:
        return JSONResponse({"requests": self.state.requests})


def create_app(state: EmulatorState | None = None) -> Starlette:
    return Emulator(state or EmulatorState()).app
