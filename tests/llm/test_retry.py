from __future__ import annotations

import random
import time
from email.utils import formatdate

import pytest

from agentfactory.errors import AuthenticationError, ProviderError
from agentfactory.llm.retry import Failure, RetryPolicy, backoff_delay, call_with_retry, parse_retry_after


def test_parse_retry_after_seconds_ms_and_http_date():
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    now = time.time()
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(
        30, abs=1
    )
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_retry_after_is_honoured_and_capped():
    policy = RetryPolicy(max_retry_after_s=5.0, jitter=0.25)
    rng = random.Random(1)
    assert 2.0 <= backoff_delay(1, Failure(429, "x", retry_after_s=2.0), policy, rng) <= 5.0
    assert backoff_delay(1, Failure(429, "x", retry_after_s=3600.0), policy, rng) == 5.0


def test_exponential_backoff_is_bounded():
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=4.0, jitter=0.25)
    rng = random.Random(2)
    delays = [backoff_delay(n, Failure(500, "x"), policy, rng) for n in range(1, 6)]
    assert 1.0 <= delays[0] <= 1.25 and 2.0 <= delays[1] <= 2.5
    assert all(d <= 5.0 for d in delays)


def _failing(failures):
    calls = {"n": 0}

    def call():
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return "ok"

    return call, calls


class Boom(Exception):
    def __init__(self, failure):
        self.failure = failure


def classify(exc):
    return exc.failure if isinstance(exc, Boom) else None


def test_retries_transient_then_succeeds_without_real_sleeping():
    slept = []
    call, calls = _failing([Boom(Failure(None, "timed out")), Boom(Failure(502, "bad gateway"))])
    result = call_with_retry(
        call, classify, RetryPolicy(), provider="X API", key_var="X_KEY", sleep=slept.append
    )
    assert result == "ok" and calls["n"] == 3 and len(slept) == 2


@pytest.mark.parametrize("status", [400, 404, 422])
def test_client_errors_are_not_retried(status):
    call, calls = _failing([Boom(Failure(status, "bad"))])
    with pytest.raises(ProviderError, match=f"rejected the request \\({status}: bad\\)"):
        call_with_retry(
            call, classify, RetryPolicy(), provider="X API", key_var="X_KEY", sleep=lambda s: None
        )
    assert calls["n"] == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_name_the_key(status):
    call, calls = _failing([Boom(Failure(status, "denied"))])
    with pytest.raises(AuthenticationError, match="check X_KEY"):
        call_with_retry(
            call, classify, RetryPolicy(), provider="X API", key_var="X_KEY", sleep=lambda s: None
        )
    assert calls["n"] == 1


def test_unclassified_exceptions_propagate():
    def call():
        raise KeyError("bug")

    with pytest.raises(KeyError):
        call_with_retry(
            call, classify, RetryPolicy(), provider="X API", key_var="X_KEY", sleep=lambda s: None
        )
