"""The HTTP boundary: the only module that imports httpx.

Builds clients, headers and timeouts, maps httpx exceptions onto the a2agent error tree, and runs
requests under the retry policy. The sync and async transports are twins: everything that is not
I/O (URL, headers, body encoding, error decoding, retry decisions) is a shared pure function, and
each wrapper is the few lines of I/O around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx

from . import __version__
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidInputError,
    make_status_error,
    scrub_secret,
)
from ._retry import RetryPolicy
from ._sse import ServerSentEvent, SSEDecoder

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "AsyncTransport", "SyncTransport", "TransportConfig"]

log = logging.getLogger("a2agent")

DEFAULT_BASE_URL = "https://api.a2agent.me/v1"
DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30.0)
Timeout = float | httpx.Timeout | None
_USER_AGENT = f"a2agent-python/{__version__}"
_CLIENT_LOCK = threading.Lock()


class TransportConfig:
    """Resolved, validated connection settings. ``repr`` never shows the key."""

    __slots__ = ("_api_key", "base_url", "default_headers", "policy", "timeout")

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: Timeout | object = None,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("A2AGENT_API_KEY")
        if not key or not isinstance(key, str):
            raise InvalidInputError(
                "No A2Agent API key: pass api_key=... or set the A2AGENT_API_KEY environment variable."
            )
        self._api_key = key
        self.base_url = _normalize_base_url(base_url or os.environ.get("A2AGENT_BASE_URL") or DEFAULT_BASE_URL)
        self.timeout = _to_timeout(timeout)
        policy = policy or RetryPolicy()
        if max_retries is not None:
            if not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0:
                raise InvalidInputError(f"max_retries must be a non-negative int, got {max_retries!r}")
            policy = dataclasses.replace(policy, max_retries=max_retries)
        self.policy = policy
        self.default_headers = dict(default_headers or {})

    @property
    def api_key(self) -> str:
        return self._api_key

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
            **self.default_headers,
        }
        if extra:
            headers.update(extra)
        return headers

    def __repr__(self) -> str:
        return f"TransportConfig(base_url={self.base_url!r}, max_retries={self.policy.max_retries}, api_key='***')"


def _normalize_base_url(url: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidInputError(f"base_url must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def _to_timeout(timeout: Timeout | object) -> httpx.Timeout:
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 0:
        return httpx.Timeout(float(timeout), connect=min(10.0, float(timeout)))
    raise InvalidInputError(f"timeout must be a positive number of seconds or httpx.Timeout, got {timeout!r}")


def encode_json(payload: Any) -> bytes:
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"Request payload is not JSON-serializable: {exc}") from exc


def _decode_body(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return content.decode(errors="replace")


@contextlib.contextmanager
def map_transport_errors(method: str, url: str, secret: str) -> Iterator[None]:
    """Translate httpx failures to ``APIConnectionError``/``APITimeoutError`` (key scrubbed)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise APITimeoutError(scrub_secret(f"Request timed out: {exc!r}", secret), method=method, url=url) from None
    except (httpx.TransportError, httpx.StreamError) as exc:
        raise APIConnectionError(
            scrub_secret(f"Connection error: {type(exc).__name__}: {exc}", secret), method=method, url=url
        ) from None


def _status_error(config: TransportConfig, response: httpx.Response) -> APIStatusError:
    return make_status_error(response.status_code, _decode_body(response.content),
                             headers=dict(response.headers), secret=config.api_key)


def _retry_delay(config: TransportConfig, attempt: int, error: Exception) -> float | None:
    """Seconds to wait before retrying after ``error``, or None when it must be raised."""
    if attempt >= config.policy.max_retries:
        return None
    if isinstance(error, APIStatusError):
        if not config.policy.should_retry_status(error.status_code, error.headers, error.body):
            return None
        delay = config.policy.delay(attempt, error.headers)
    elif isinstance(error, APIConnectionError):
        delay = config.policy.delay(attempt)
    else:
        return None
    log.info("a2agent: retrying in %.2fs after %s (retry %d of %d)", delay, type(error).__name__,
             attempt + 1, config.policy.max_retries)
    return delay


def _request_timeout(config: TransportConfig, timeout: Timeout | object) -> httpx.Timeout:
    return config.timeout if timeout is None else _to_timeout(timeout)


def default_http_client(config: TransportConfig) -> httpx.Client:
    return httpx.Client(timeout=config.timeout, limits=DEFAULT_LIMITS)


def default_async_http_client(config: TransportConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=config.timeout, limits=DEFAULT_LIMITS)


class SyncTransport:
    def __init__(self, config: TransportConfig, http_client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._owns_client = http_client is None
        self._http = http_client
        self._sleep = sleep

    @property
    def _client(self) -> httpx.Client:
        # Built on first use: constructing a model must stay cheap (httpx builds an SSL context).
        if self._http is None:
            with _CLIENT_LOCK:
                if self._http is None:
                    self._http = default_http_client(self.config)
        return self._http

    def request(self, method: str, path: str, payload: Any = None, *, timeout: Timeout | object = None,
                headers: Mapping[str, str] | None = None) -> Any:
        url = self.config.base_url + path
        content = encode_json(payload) if payload is not None else None
        request = self._client.build_request(method, url, content=content, headers=self.config.headers(headers),
                                             timeout=_request_timeout(self.config, timeout))
        attempt = 0
        while True:
            try:
                with map_transport_errors(method, url, self.config.api_key):
                    response = self._client.send(request)
                if response.status_code < 400:
                    return _decode_body(response.content)
                raise _status_error(self.config, response)
            except (APIStatusError, APIConnectionError) as exc:
                delay = _retry_delay(self.config, attempt, exc)
                if delay is None:
                    raise
                self._sleep(delay)
                attempt += 1

    def stream(self, path: str, payload: Any, *, timeout: Timeout | object = None,
               headers: Mapping[str, str] | None = None) -> Iterator[ServerSentEvent]:
        """Yield SSE events; retried like ``request`` until the first event has been yielded."""
        url = self.config.base_url + path
        request = self._client.build_request(
            "POST", url, content=encode_json(payload), timeout=_request_timeout(self.config, timeout),
            headers=self.config.headers({"Accept": "text/event-stream", **(headers or {})}))
        attempt = 0
        while True:
            delivered = False
            try:
                with map_transport_errors("POST", url, self.config.api_key):
                    response = self._client.send(request, stream=True)
                try:
                    if response.status_code >= 400:
                        with map_transport_errors("POST", url, self.config.api_key):
                            response.read()
                        raise _status_error(self.config, response)
                    decoder = SSEDecoder()
                    with map_transport_errors("POST", url, self.config.api_key):
                        for chunk in response.iter_bytes():
                            for event in decoder.feed(chunk):
                                delivered = True
                                yield event
                    yield from decoder.flush()
                    return
                finally:
                    response.close()
            except (APIStatusError, APIConnectionError) as exc:
                delay = None if delivered else _retry_delay(self.config, attempt, exc)
                if delay is None:
                    raise
                self._sleep(delay)
                attempt += 1

    def close(self) -> None:
        if self._owns_client and self._http is not None:
            self._http.close()


class AsyncTransport:
    def __init__(self, config: TransportConfig, http_client: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.config = config
        self._owns_client = http_client is None
        self._http = http_client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sleep = sleep

    @property
    def _client(self) -> httpx.AsyncClient:
        # An httpx.AsyncClient's pool belongs to the event loop it first ran on; a model reused
        # across asyncio.run() calls (scripts, notebooks) would fail on a dead loop. Owned clients
        # are therefore kept per loop; an injected client is the caller's to manage.
        if self._owns_client:
            loop = asyncio.get_running_loop()
            if self._http is None or self._loop is not loop:
                self._http = default_async_http_client(self.config)
                self._loop = loop
        assert self._http is not None
        return self._http

    async def request(self, method: str, path: str, payload: Any = None, *, timeout: Timeout | object = None,
                      headers: Mapping[str, str] | None = None) -> Any:
        url = self.config.base_url + path
        content = encode_json(payload) if payload is not None else None
        request = self._client.build_request(method, url, content=content, headers=self.config.headers(headers),
                                             timeout=_request_timeout(self.config, timeout))
        attempt = 0
        while True:
            try:
                with map_transport_errors(method, url, self.config.api_key):
                    response = await self._client.send(request)
                if response.status_code < 400:
                    return _decode_body(response.content)
                raise _status_error(self.config, response)
            except (APIStatusError, APIConnectionError) as exc:
                delay = _retry_delay(self.config, attempt, exc)
                if delay is None:
                    raise
                await self._sleep(delay)
                attempt += 1

    async def stream(self, path: str, payload: Any, *, timeout: Timeout | object = None,
                     headers: Mapping[str, str] | None = None) -> AsyncIterator[ServerSentEvent]:
        url = self.config.base_url + path
        request = self._client.build_request(
            "POST", url, content=encode_json(payload), timeout=_request_timeout(self.config, timeout),
            headers=self.config.headers({"Accept": "text/event-stream", **(headers or {})}))
        attempt = 0
        while True:
            delivered = False
            try:
                with map_transport_errors("POST", url, self.config.api_key):
                    response = await self._client.send(request, stream=True)
                try:
                    if response.status_code >= 400:
                        with map_transport_errors("POST", url, self.config.api_key):
                            await response.aread()
                        raise _status_error(self.config, response)
                    decoder = SSEDecoder()
                    with map_transport_errors("POST", url, self.config.api_key):
                        async for chunk in response.aiter_bytes():
                            for event in decoder.feed(chunk):
                                delivered = True
                                yield event
                    for event in decoder.flush():
                        yield event
                    return
                finally:
                    await response.aclose()
            except (APIStatusError, APIConnectionError) as exc:
                delay = None if delivered else _retry_delay(self.config, attempt, exc)
                if delay is None:
                    raise
                await self._sleep(delay)
                attempt += 1

    async def aclose(self) -> None:
        if self._owns_client and self._http is not None:
            await self._http.aclose()
