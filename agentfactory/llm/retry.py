"""Bounded retries for provider calls, shared by every adapter.

The SDKs' own retries are switched off (`max_retries=0`) so that one policy, in one place, decides:
retry on 408/409/429, 5xx (529 overloaded included) and connection errors (refused, reset, dropped),
with exponential backoff plus jitter, and wait at least what the server asks for in `Retry-After`
(seconds or an HTTP date; `retry-after-ms` too), capped so a hostile or confused server cannot park a run
for hours. Never retry any other 4xx: those
will fail the same way again. 401/403 become `AuthenticationError` naming the key variable; anything
else that could not be fixed becomes `ProviderError` carrying the status and the provider's message.

Adapters translate their SDK's exceptions into a `Failure` with `classify_sdk_error`; this module never
imports an SDK. A 2xx reply whose body cannot be used (`BadReply`) is never retried: the provider
answered, and asking again would bill the same broken answer.

Deadline: with `deadline_s`, the whole call (every attempt, and the waits between them) has one overall
deadline, enforced on the wire by `transport.CallGuard`. When it passes the call ends with
`ProviderTimeout`; a backoff that would end after it is not started.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from agentfactory.errors import AuthenticationError, BudgetExhausted, ProviderError, ProviderTimeout
from agentfactory.llm.reply import BadReply, clip
from agentfactory.llm.transport import CallGuard, DeadlinePassed, cut_by_run
from agentfactory.records import record

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429})
AUTH_STATUS = frozenset({401, 403})


@record(frozen=True)
class RetryPolicy:
    """How often and how long to retry. Tests pass small values to stay fast."""

    max_attempts: int = 5  # total tries, including the first
    base_delay_s: float = 1.0  # first backoff; doubles on each retry
    max_delay_s: float = 30.0  # cap on one computed backoff
    max_retry_after_s: float = 60.0  # cap on a wait the server asks for
    jitter: float = 0.25  # backoff is multiplied by 1 + uniform(0, jitter)


@record(frozen=True)
class Failure:
    """A provider error, reduced to what the retry decision needs."""

    status: int | None  # HTTP status, None for timeouts and connection errors
    message: str  # the provider's own message, or a description of the transport failure
    retry_after_s: float | None = None
    kind: str = "status"  # "status", "transport", "reply" (a 2xx body we cannot use), "unexpected"

    @property
    def retryable(self) -> bool:
        if self.kind in ("reply", "unexpected"):
            return False
        return self.status is None or self.status in RETRYABLE_STATUS or self.status >= 500


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait, from `retry-after-ms` or `Retry-After`; None when absent."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # an HTTP date is rare: the email package is not imported for every run

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def provider_message(body: Any, fallback: str) -> str:
    """The human message inside an error body (Anthropic and OpenAI both use {"error": {"message"}})."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return clip(inner["message"])
        if isinstance(inner, str):
            return clip(inner)
        if isinstance(body.get("message"), str):
            return clip(body["message"])
    if isinstance(body, str) and body.strip():
        return clip(body)
    return clip(fallback)


def classify_sdk_error(exc: BaseException, status_error: type, connection_error: type) -> Failure | None:
    """Map an exception met while calling an official SDK (anthropic and openai share the shape).

    `status_error` is the SDK's APIStatusError, `connection_error` its APIConnectionError (timeouts
    subclass it). A `BadReply` from reading the body is a non-retryable "reply" failure; anything else
    (an SDK raising on a body it could not handle) is a non-retryable "unexpected" one, so no exception
    of the SDK or of a hostile reply escapes the adapter unclassified.
    """
    if isinstance(exc, BadReply):
        return Failure(status=None, message=str(exc), kind="reply")
    if isinstance(exc, status_error):
        response = getattr(exc, "response", None)
        headers = dict(response.headers) if response is not None else {}
        return Failure(
            status=int(getattr(exc, "status_code", 0) or 0),
            message=provider_message(getattr(exc, "body", None), str(getattr(exc, "message", exc))),
            retry_after_s=parse_retry_after(headers),
        )
    if isinstance(exc, connection_error):
        kind = "timed out" if "timeout" in type(exc).__name__.lower() else "connection failed"
        cause = exc.__cause__ or exc.__context__
        detail = f"{kind}: {clip(str(cause))}" if cause and str(cause) else kind
        return Failure(status=None, message=detail, kind="transport")
    return Failure(status=None, message=f"{type(exc).__name__}: {clip(str(exc))}", kind="unexpected")


def backoff_delay(attempt: int, failure: Failure, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds to wait before try number `attempt + 1` (attempt counts from 1)."""
    if failure.retry_after_s is not None:
        # The server knows best, so wait what it asks (capped); jitter only upwards, and a little, so
        # clients told the same moment do not all return at once.
        wait = min(failure.retry_after_s, policy.max_retry_after_s)
        return min(wait * (1.0 + rng.uniform(0.0, policy.jitter / 5)), policy.max_retry_after_s)
    delay = min(policy.max_delay_s, policy.base_delay_s * (2 ** (attempt - 1)))
    return delay * (1.0 + rng.uniform(0.0, policy.jitter))


def call_with_retry(
    call: Callable[[], T],
    classify: Callable[[BaseException], Failure | None],
    policy: RetryPolicy,
    *,
    provider: str,
    key_var: str,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    deadline_s: float | None = None,
) -> T:
    """Run `call`, retrying transient failures under `policy`; raise typed errors for the rest.

    `provider` names the service in messages ("Anthropic API"); `key_var` is the environment variable
    whose key was used, so a 401 tells the user exactly what to fix. `deadline_s` bounds the whole call,
    retries included (see the module docstring).
    """
    rng = rng or random.Random()
    by_run = False
    if deadline_s is not None:
        deadline_s, by_run = cut_by_run(deadline_s)
        if deadline_s <= 0:
            raise BudgetExhausted("Budget exhausted: time limit reached before the model call.")
    guard = CallGuard(deadline_s) if deadline_s is not None else None
    attempt = 0
    while True:
        attempt += 1
        try:
            if guard is None:
                return call()
            with guard.attempt():
                return call()
        except DeadlinePassed:
            raise _timeout(provider, guard, by_run) from None
        except Exception as exc:
            if guard is not None and guard.reply_problem:
                failure: Failure | None = Failure(None, guard.reply_problem, kind="reply")
            elif guard is not None and guard.expired:
                raise _timeout(provider, guard, by_run) from None
            else:
                failure = classify(exc)
            if failure is None:
                raise
            if failure.kind == "reply":
                raise ProviderError(
                    f"The {provider} sent a reply that cannot be used: {failure.message}."
                ) from None
            if failure.kind == "unexpected":
                raise ProviderError(
                    f"The call to the {provider} failed unexpectedly ({failure.message})."
                ) from None
            if failure.status in AUTH_STATUS:
                raise AuthenticationError(
                    f"The {provider} refused the credentials ({failure.status}: {failure.message}): "
                    f"check {key_var}."
                ) from None
            if not failure.retryable:
                raise ProviderError(
                    f"The {provider} rejected the request ({failure.status}: {failure.message})."
                ) from None
            if attempt >= policy.max_attempts:
                status = failure.status if failure.status is not None else "no response"
                raise ProviderError(
                    f"The {provider} still failed after {attempt} attempts ({status}: {failure.message})."
                ) from None
            delay = backoff_delay(attempt, failure, policy, rng)
            if guard is not None and delay >= guard.remaining():
                status = failure.status if failure.status is not None else "no response"
                if by_run:
                    raise BudgetExhausted(
                        f"Budget exhausted: time limit reached while the {provider} kept failing "
                        f"({status}: {failure.message})."
                    ) from None
                raise ProviderTimeout(
                    f"The {provider} still failed after {attempt} attempts ({status}: {failure.message}) "
                    f"and the {guard.seconds:g} s call deadline leaves no time to try again."
                ) from None
            sleep(delay)


def _timeout(provider: str, guard: CallGuard | None, by_run: bool = False) -> Exception:
    if by_run:  # the run's wall clock ended the call: the run's time budget, not the provider, ran out
        return BudgetExhausted(f"Budget exhausted: time limit reached while waiting for the {provider}.")
    seconds = guard.seconds if guard is not None else 0
    return ProviderTimeout(
        f"The {provider} did not answer completely within the {seconds:g} s call deadline "
        f"(setting call_timeout_s)."
    )
