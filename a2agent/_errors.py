"""Typed errors raised by the a2agent core, and the ONE place secrets are scrubbed.

    A2AgentError
    ├── InvalidInputError (also ValueError)   bad arguments or payloads, caught before any request
    ├── APIConnectionError                    the request never got an HTTP response
    │   └── APITimeoutError
    ├── APIStatusError                        the server answered 4xx/5xx
    │   ├── BadRequestError            400
    │   ├── AuthenticationError        401
    │   ├── PermissionDeniedError      403   (suspended key, insufficient balance)
    │   ├── NotFoundError              404
    │   ├── ConflictError              409
    │   ├── UnprocessableEntityError   422
    │   ├── RateLimitError             429   (``is_quota_exhausted`` for balance/quota 429s)
    │   └── InternalServerError        >=500
    ├── APIResponseError                      a 200 response that cannot be used (not a completion, no events)
    │   └── StreamError                       an error event, or a malformed event, inside a 200 stream
    └── LimiterError                          the client-side rate limiter gave up waiting (``reason``:
                                              "timeout" or "queue_full"); nothing was sent for that attempt

Scrubbing is enforced by the classes themselves, so a new error path cannot forget it: every API
key a client was configured with is registered here (``register_secret``), and ``A2AgentError``
scrubs its message and every attribute assigned to it (bodies, headers, URLs), in plain, ``repr``-,
JSON- and URL-escaped forms. Exceptions chained as ``__cause__`` are scrubbed in place
(``scrub_exception``) before they are attached.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = [
    "A2AgentError",
    "APIConnectionError",
    "APIResponseError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidInputError",
    "LimiterError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamError",
    "UnprocessableEntityError",
]

_REDACTED = "***"

# -- the scrubber ----------------------------------------------------------------------------------
# Every form a registered key can take inside an error text: as is, inside a repr (backslashes and
# quotes escaped), inside JSON, and percent-encoded. Longest first, so no form is cut by another.
_SECRET_FORMS: list[str] = []
_SECRETS: dict[str, int] = {}  # key -> how many live configurations hold it


def register_secret(secret: str, owner: object | None = None) -> None:
    """Remember an API key so every error raised in this process is scrubbed of it.

    Called once per configured client (``TransportConfig``, as ``owner``); keys are validated
    before (printable ASCII, at least 16 characters), so scrubbing only ever replaces the key
    itself. The key is forgotten when the last owner holding it is garbage collected, so a
    process that serves many keys over time (a multi-tenant service) keeps a bounded list.
    """
    if owner is not None:
        weakref.finalize(owner, _release_secret, secret)
    count = _SECRETS.get(secret, 0)
    _SECRETS[secret] = count + 1
    if count:
        return
    _scrub_http_logs()
    _rebuild_forms()


def _release_secret(secret: str) -> None:
    count = _SECRETS.get(secret, 0) - 1
    if count > 0:
        _SECRETS[secret] = count
        return
    _SECRETS.pop(secret, None)
    _rebuild_forms()


def _rebuild_forms() -> None:
    forms: set[str] = set()
    for secret in _SECRETS:
        forms.update({secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], quote(secret, safe="")})
    _SECRET_FORMS[:] = sorted(forms, key=len, reverse=True)


def scrub(value: Any) -> Any:
    """``value`` with every registered key replaced by ``***``, recursing into containers.

    Strings, bytes, dicts (keys and values), lists and tuples are rewritten; other objects are
    returned as they are (exceptions: see ``scrub_exception``).
    """
    if not _SECRET_FORMS:
        return value
    if isinstance(value, str):
        for form in _SECRET_FORMS:
            if form in value:
                value = value.replace(form, _REDACTED)
        return value
    if isinstance(value, bytes | bytearray):
        return scrub(bytes(value).decode("utf-8", "backslashreplace")).encode() if _has_secret(value) else value
    if isinstance(value, Mapping):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, tuple):
        return tuple(scrub(v) for v in value)
    return value


def _has_secret(value: bytes | bytearray) -> bool:
    return any(form.encode() in value for form in _SECRET_FORMS)


def scrub_exception(exc: BaseException) -> BaseException:
    """Scrub ``exc`` and its whole ``__cause__``/``__context__`` chain in place; returns ``exc``.

    For every exception an a2agent error is chained to (``raise ... from scrub_exception(exc)``, or
    attached as ``__cause__``): args and text attributes (``JSONDecodeError.doc``, notes) are
    rewritten, and the request an httpx exception carries (whose headers hold
    ``Authorization: Bearer <key>``) is detached. Exceptions that cannot be rewritten (pydantic's
    ``ValidationError`` renders from compiled state) must not be chained at all.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if not isinstance(current, A2AgentError):
            current.args = scrub(current.args)
            for name, value in list(getattr(current, "__dict__", {}).items()):
                if name == "_request":
                    current._request = None  # type: ignore[attr-defined]  # httpx.RequestError's request
                elif isinstance(value, str | bytes | list | tuple | dict):
                    setattr(current, name, scrub(value))
        current = current.__cause__ or current.__context__
    return exc


class _ScrubRecords(logging.Filter):
    """Scrubs log records of the HTTP libraries: at DEBUG httpcore logs whole response headers,
    which a misbehaving server may have filled with the key."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.msg)
        if record.args:
            record.args = scrub(record.args)
        return True


# Filters apply to the logger a record is created on, not its parents: every logger that logs
# requests or responses is named. httpx/httpcore only build records when DEBUG/INFO is on, so this
# costs nothing otherwise.
_HTTP_LOGGERS = ("a2agent", "httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2",
                 "httpcore.proxy", "httpcore.socks")


_LOG_SCRUBBER = _ScrubRecords()


def _scrub_http_logs() -> None:
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _LOG_SCRUBBER not in logger.filters:
            logger.addFilter(_LOG_SCRUBBER)


def safe_url(url: str) -> str:
    """A URL for messages: without user:password and scrubbed."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return scrub(f"{scheme}{sep}{rest}")  # type: ignore[no-any-return]


# -- the tree --------------------------------------------------------------------------------------
class A2AgentError(Exception):
    """Base class of every error the package raises on purpose. Never carries an API key."""

    def __init__(self, message: str) -> None:
        message = scrub(message)
        super().__init__(message)
        self.message = message

    def __setattr__(self, name: str, value: Any) -> None:
        # The choke point: bodies, headers, URLs and messages assigned anywhere are scrubbed here.
        super().__setattr__(name, scrub(value))


class InvalidInputError(A2AgentError, ValueError):
    """Bad arguments or request payload; raised before anything is sent."""


class _RequestError(A2AgentError):
    """Shared by errors tied to one HTTP request: which request, and after how many attempts."""

    def __init__(self, message: str, *, method: str = "", url: str = "", attempts: int = 1) -> None:
        url = safe_url(url) if url else ""
        if method or url:
            message = f"{message} ({method} {url}, {attempts} attempt{'s' if attempts != 1 else ''})"
        super().__init__(message)
        self.method = method
        self.url = url
        self.attempts = attempts


class APIConnectionError(_RequestError):
    """The request failed before an HTTP response arrived (DNS, refused, reset, protocol)."""

    def __init__(self, message: str = "Connection error.", *, method: str = "", url: str = "",
                 attempts: int = 1) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read, write or pool)."""

    def __init__(self, message: str = "Request timed out.", *, method: str = "", url: str = "",
                 attempts: int = 1) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)


class APIStatusError(_RequestError):
    """The server answered with a 4xx or 5xx status.

    ``retry_after`` is the wait the server asked for (seconds, from ``retry-after-ms`` or
    ``Retry-After``), or None; it is set even when that wait was too long to retry.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        method: str = "",
        url: str = "",
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, attempts=attempts)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.headers = dict(headers or {})
        self.retry_after = retry_after

    @property
    def code(self) -> str | None:
        """The provider's error code (``error.code`` or ``error.type``), when the body has one."""
        err = _error_object(self.body)
        value = err.get("code") or err.get("type")
        return str(value) if value is not None else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, message={self.message!r})"


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    @property
    def is_quota_exhausted(self) -> bool:
        """True when the 429 means an exhausted balance or quota: waiting will not help."""
        return is_quota_exhausted(self.status_code, self.headers, self.body)


class InternalServerError(APIStatusError):
    pass


class APIResponseError(A2AgentError):
    """The server answered 200, but with something that is not a usable response."""

    def __init__(self, message: str, *, body: Any = None) -> None:
        super().__init__(message)
        self.body = body


class StreamError(APIResponseError):
    """An error event, or a malformed event, arrived inside a stream that had started with 200."""


class LimiterError(A2AgentError):
    """The rate limiter gave up: a call waited past its timeout or ``LimiterSettings.max_wait``
    (``reason="timeout"``), or too many calls were already waiting (``reason="queue_full"``)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _error_object(body: Any) -> dict[str, Any]:
    """The inner error dict of an OpenAI (``{"error": {..}}``) or Anthropic body, else {}."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            return inner
        return body
    return {}


def error_message(body: Any, default: str) -> str:
    """Best human message found in an error body of any known shape; lenient by design."""
    if isinstance(body, str):
        return body.strip()[:500] or default
    err = _error_object(body)
    for key in ("message", "msg", "detail", "error"):
        value = err.get(key)
        if isinstance(value, str) and value:
            return value
    return default


# -- 429: transient rate limit, or a quota wall? --------------------------------------------------
# Gateways answer 429 for both (WIRE.md). Only wording about money or a usage cap for a period marks
# a wall; "quota" alone does not (Qwen's transient Throttling.RateQuota / AllocationQuota say it).
_WALL_MARKERS = (
    "balance", "billing", "arrear", "insufficient_balance", "exceeded_current_quota", "usage limit",
    "not active", "payment", "欠费", "余额", "充值", "上限",
)
_WALL_CODES = frozenset({"1113", "1304", "1308", "1309", "1310"})  # GLM: balance, daily/period caps


def is_quota_exhausted(status_code: int, headers: Mapping[str, str], body: Any) -> bool:
    """True when an error means an exhausted balance or quota that waiting will not fix.

    402 always; a 429 only when it has no retry hint (a server that says when to come back is
    throttling, whatever its wording) and its code or message speaks of balance, billing or a
    usage cap for the period.
    """
    if status_code == 402:
        return True
    if status_code != 429 or "retry-after" in headers or "retry-after-ms" in headers:
        return False
    err = _error_object(body)
    if str(err.get("code", "")) in _WALL_CODES:
        return True
    text = body if isinstance(body, str) else " ".join(str(err.get(k, "")) for k in ("code", "type", "message"))
    text = text.lower()
    return any(marker in text for marker in _WALL_MARKERS)


_EXPECTED_BASE_URL = "https://api.a2agent.me/v1"
_ENDPOINTS = ("/chat/completions", "/messages", "/models")  # what the client appends to the base URL


def base_url_hint(base_url: str) -> str:
    """The hint a 404 gets when its base URL's path is not ``/v1``: the client appends the endpoint to
    the base URL as given, so a missing ``/v1``, an endpoint copied into the base URL, or another
    prefix (``/api/v1``) all end in a bare 404. '' for a base URL of the expected form."""
    path = urlsplit(base_url).path.rstrip("/")
    if path == "/v1":
        return ""
    endpoint = next((e for e in _ENDPOINTS if path.endswith(e)), None)
    if endpoint is not None:
        return (f" (the base URL includes the endpoint {endpoint}, which the client appends; "
                f"the A2Agent base URL ends in /v1, e.g. {_EXPECTED_BASE_URL})")
    if path.endswith("/v1"):
        return f" (the A2Agent base URL's path is /v1, not {path}: e.g. {_EXPECTED_BASE_URL})"
    return f" (the A2Agent base URL ends in /v1, e.g. {_EXPECTED_BASE_URL})"


def make_status_error(status_code: int, body: Any, *, headers: Mapping[str, str] | None = None,
                      method: str = "", url: str = "", attempts: int = 1,
                      retry_after: float | None = None, base_url: str = "") -> APIStatusError:
    """Build the typed error for an HTTP error response (scrubbed by the error class itself).
    ``base_url``: the client's, for the hint a 404 gets when it is not of the expected form."""
    headers = dict(headers or {})
    request_id = headers.get("x-request-id") or headers.get("request-id")
    cls = _STATUS_CLASSES.get(status_code)
    if cls is None:
        cls = InternalServerError if status_code >= 500 else APIStatusError
    message = f"Error code: {status_code} - {error_message(body, 'HTTP error')}"
    if status_code == 404:
        if base_url:
            message += base_url_hint(base_url)
        elif url and "/v1" not in url:  # no base URL known: only the request URL to go by
            message += f" (the A2Agent base URL ends in /v1, e.g. {_EXPECTED_BASE_URL})"
    return cls(message, status_code=status_code, body=body, request_id=request_id, headers=headers,
               method=method, url=url, attempts=attempts, retry_after=retry_after)
