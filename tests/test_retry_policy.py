"""The pure retry policy: what is retried, and how long to wait."""

from __future__ import annotations

import email.utils

import pytest

from a2agent import RetryPolicy

QUOTA = {"error": {"message": "Insufficient balance", "code": "insufficient_balance"}}
RATE = {"error": {"message": "Rate limit exceeded", "code": "rate_limit_exceeded"}}


@pytest.mark.parametrize(
    ("status", "headers", "body", "retry"),
    [
        (408, {}, None, True), (409, {}, None, True), (429, {}, RATE, True), (500, {}, None, True),
        (502, {}, None, True), (503, {}, None, True), (529, {}, None, True),
        (429, {}, QUOTA, False), (400, {}, None, False), (401, {}, None, False), (403, {}, None, False),
        (404, {}, None, False), (422, {}, None, False),
        (400, {"x-should-retry": "true"}, None, True), (503, {"x-should-retry": "false"}, None, False),
    ],
    ids=["408", "409", "429", "500", "502", "503", "529", "429_quota", "400", "401", "403", "404", "422",
         "hint_true", "hint_false"],
)
def test_should_retry_status(status: int, headers: dict[str, str], body: object, retry: bool) -> None:
    assert RetryPolicy().should_retry_status(status, headers, body) is retry


@pytest.mark.parametrize(
    ("rand", "expected"),
    [(0.0, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]), (1.0, [0.375, 0.75, 1.5, 3.0, 6.0, 6.0])],
    ids=["no_jitter", "full_jitter"],
)
def test_exponential_backoff_capped_with_jitter(rand: float, expected: list[float]) -> None:
    policy = RetryPolicy(random=lambda: rand)
    assert [policy.delay(n) for n in range(6)] == pytest.approx(expected)


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.2"}, 0.2),
        ({"retry-after": email.utils.formatdate(NOW + 5, usegmt=True)}, 5.0),
        ({"retry-after": "3600"}, 0.5),  # beyond max_retry_after: fall back to back-off
        ({"retry-after": "soon"}, 0.5),
        ({"retry-after-ms": "abc"}, 0.5),
    ],
    ids=["ms", "ms_wins", "seconds", "fractional", "http_date", "too_long", "garbage", "garbage_ms"],
)
def test_server_delay_headers(headers: dict[str, str], expected: float) -> None:
    policy = RetryPolicy(random=lambda: 0.0, now=lambda: NOW)
    assert policy.delay(0, headers) == pytest.approx(expected)
