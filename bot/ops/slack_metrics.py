"""Counting every Slack Web API call and error of a client, for ``bot.ops.metrics``."""

from __future__ import annotations

from typing import Any, Protocol

from prometheus_client import Counter
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState

__all__ = ["SlackCounters", "instrument_client"]


class SlackCounters(Protocol):
    """The counters of ``bot.ops.metrics.Metrics`` this module updates."""

    slack_calls: Counter
    slack_errors: Counter
    slack_rate_limited: Counter


class _RateLimitCounter(RetryHandler):
    """Sees every HTTP answer before the real retry handlers; counts 429s, never retries."""

    def __init__(self, metrics: SlackCounters) -> None:
        super().__init__(max_retry_count=1_000_000)
        self._metrics = metrics

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None and response.status_code == 429:
            method = request.url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
            self._metrics.slack_rate_limited.labels(method).inc()
        return False


def instrument_client(client: WebClient, metrics: SlackCounters) -> None:
    """Count calls and errors of every Web API method (all go through ``api_call``)."""
    if getattr(client.api_call, "_smtp_bot_instrumented", False):
        return
    inner = client.api_call

    def api_call(api_method: str, **kwargs: Any) -> Any:
        metrics.slack_calls.labels(api_method).inc()
        try:
            return inner(api_method, **kwargs)
        except SlackApiError as exc:
            status = getattr(exc.response, "status_code", 200)
            error = "ratelimited" if status == 429 else _slack_error(exc, status)
            metrics.slack_errors.labels(api_method, error).inc()
            raise
        except Exception as exc:
            metrics.slack_errors.labels(api_method, type(exc).__name__).inc()
            raise

    api_call._smtp_bot_instrumented = True  # type: ignore[attr-defined]
    client.api_call = api_call  # type: ignore[method-assign]
    client.retry_handlers.insert(0, _RateLimitCounter(metrics))


def _slack_error(exc: SlackApiError, status: int) -> str:
    try:
        error = exc.response.get("error")
    except Exception:
        error = None
    return str(error) if error else f"http_{status}"
