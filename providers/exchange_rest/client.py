"""HTTPS client for Exchange Online's REST cmdlet endpoint: InvokeCommand, $batch, throttling.

One pooled ``httpx.Client`` per tenant, every socket operation under ``providers.deadline``
(``http_deadline.deadline_transport``), at most ``max_concurrency`` requests in flight. Several
cmdlets go as ``$batch`` requests of at most 10 with ``Prefer: odata.continue-on-error``; the
answers are matched to their cmdlets by each sub-request's ``id``, never by position.

429/503 (for the whole request or one sub-request) wait for ``Retry-After`` (capped; plus up to
25% jitter, so parallel batches do not come back at the same instant) and are retried at most
``retries`` times, never past the caller's deadline. This is hand-written rather than tenacity:
the wait comes from the server's header per attempt, a sub-request's retry is a new $batch of
just the throttled ones, and no sleep may outlast the deadline; tenacity would need custom
wait, stop and retry hooks for each of these, and a new dependency, for about 30 lines.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from contextvars import copy_context
from typing import Any, TypeVar

import httpx

from providers import deadline
from providers.errors import ProtocolError, ProviderError, ProviderTimeout, Unavailable
from providers.exchange_rest.replies import RETRY_STATUS, outcome_of
from providers.exchange_rest.wire import (
    Command,
    Outcome,
    anchor_mailbox,
    batch_headers,
    invoke_headers,
)
from providers.exchange_rest.wire import retry_after_s as parse_retry_after
from providers.http_deadline import deadline_transport
from providers.microsoft.tokens import AccessTokens
from providers.whm_client import build_ssl_context

__all__ = ["BATCH_LIMIT", "ExoRestClient"]

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH_LIMIT = 10  # sub-requests per $batch (CIPP's limit for this endpoint)
_MAX_PAGES = 200


class ExoRestClient:
    """Runs cmdlets for one tenant; thread-safe. ``run`` spreads batches over a thread pool."""

    def __init__(
        self,
        *,
        tenant_id: str,
        exchange_url: str,
        tokens: AccessTokens,
        verify_tls: bool | str = True,
        timeout_s: float = 30.0,
        max_concurrency: int = 4,
        retries: int = 4,
        backoff_s: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_concurrency < 1 or retries < 0:
            raise ValueError("max_concurrency must be >= 1 and retries >= 0")
        base = httpx.URL(exchange_url.rstrip("/"))
        if base.scheme != "https" or not base.host:
            raise ValueError("exchange_url must be an https:// URL")
        self._base = str(base).rstrip("/")
        self._scope = f"{self._base}/.default"
        self._invoke_url = f"{self._base}/adminapi/beta/{tenant_id}/InvokeCommand"
        self._batch_url = f"{self._base}/adminapi/beta/{tenant_id}/$batch"
        self._anchor = anchor_mailbox(tenant_id)
        self._tokens = tokens
        self._timeout_s, self._retries, self._backoff_s = timeout_s, retries, backoff_s
        self.sleep = sleep
        self._seen_tokens: set[str] = set()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="exo-rest")
        self._side = ThreadPoolExecutor(1, thread_name_prefix="exo-rest-side")
        self._side_call = threading.local()
        if transport is None:
            transport = deadline_transport(
                httpx.HTTPTransport(
                    verify=build_ssl_context(verify_tls),
                    limits=httpx.Limits(
                        max_connections=max_concurrency + 1,  # + the side call (``submit``)
                        max_keepalive_connections=max_concurrency + 1,
                    ),
                    socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
                    trust_env=False,  # no environment proxy or CA may redirect the bearer token
                )
            )
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            trust_env=False,
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._side.shutdown(wait=True, cancel_futures=True)
        self._http.close()

    def scrub(self, text: str) -> str:
        """Text without any token this client has sent (for details and logs)."""
        for token in list(self._seen_tokens):
            text = text.replace(token, "[redacted]")
        return text

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` (one small call, e.g. the organisation's read) beside the batches: on its
        own thread and connection, outside ``max_concurrency``, so it never takes a batch's
        place. In a copy of this context: the deadline goes along."""

        def side() -> T:
            self._side_call.active = True
            try:
                return fn()
            finally:
                self._side_call.active = False

        return self._side.submit(copy_context().run, side)

    # -- the three entry points -------------------------------------------------------------

    def run(self, commands: Sequence[Command]) -> list[Outcome]:
        """Every command's outcome, in order: one InvokeCommand for one command, else
        $batch requests of at most 10, up to ``max_concurrency`` of them at once."""
        if len(commands) == 1:
            return [self.invoke(commands[0])]
        chunks = [commands[i : i + BATCH_LIMIT] for i in range(0, len(commands), BATCH_LIMIT)]
        if len(chunks) == 1:
            return self.batch(chunks[0])
        # each pool thread runs in a copy of this context: the caller's deadline goes along
        futures = [self._pool.submit(copy_context().run, self.batch, c) for c in chunks]
        return [outcome for f in futures for outcome in f.result()]

    def invoke(self, command: Command) -> Outcome:
        """One cmdlet through InvokeCommand, following ``@odata.nextLink`` (same body)."""
        url = self._invoke_url + command.query()
        value: list[Mapping[str, Any]] = []
        warnings: list[str] = []
        for _ in range(_MAX_PAGES):
            headers = invoke_headers(command, self._anchor)  # a fresh client-request-id
            try:
                status, _, body = self._post(url, command.encoded(), headers)
            except ProviderError as exc:
                return Outcome(failure=exc)
            page = outcome_of(command, status, body, self.scrub)
            if not page.ok:
                return page
            value.extend(page.value)
            warnings.extend(page.warnings)
            next_link = body.get("@odata.nextLink") if isinstance(body, dict) else None
            if not next_link:
                return Outcome(value=tuple(value), warnings=tuple(warnings))
            try:
                url = self._same_origin(str(next_link))
            except ProtocolError as exc:
                return Outcome(failure=exc)
        return Outcome(failure=ProtocolError("Exchange Online kept sending more pages."))

    def batch(self, commands: Sequence[Command]) -> list[Outcome]:
        """At most 10 cmdlets in one $batch; throttled sub-requests are sent again."""
        if not 0 < len(commands) <= BATCH_LIMIT:
            raise ValueError(f"a $batch holds 1 to {BATCH_LIMIT} requests")
        ids = {str(uuid.uuid4()): i for i in range(len(commands))}
        results: list[Outcome | None] = [None] * len(commands)
        pending = list(ids)
        attempt = 0
        while pending:
            try:
                answers = self._batch_once({k: commands[ids[k]] for k in pending})
            except ProviderError as exc:
                for key in pending:
                    results[ids[key]] = Outcome(failure=exc)
                break
            throttled: list[str] = []
            wait = 0.0
            for key in pending:
                command = commands[ids[key]]
                answer = answers.get(key)
                if answer is None:
                    results[ids[key]] = Outcome(
                        failure=ProtocolError(
                            f"Exchange Online's $batch reply has no answer for {command.cmdlet}.",
                            detail=f"sub-request id {key} missing",
                        )
                    )
                    continue
                status, headers, body = answer
                if status in RETRY_STATUS and attempt < self._retries:
                    throttled.append(key)
                    wait = max(wait, self._delay(headers.get("retry-after"), attempt))
                    continue
                results[ids[key]] = self._sub_outcome(command, status, body)
            pending = throttled
            if pending:
                try:
                    self._pause(wait, f"{len(pending)} throttled cmdlet(s)", attempt)
                except ProviderError as exc:
                    for key in pending:
                        results[ids[key]] = Outcome(failure=exc)
                    break
                attempt += 1
        return [
            r if r is not None else Outcome(failure=ProtocolError("no answer")) for r in results
        ]

    # -- one HTTP request, with retries ---------------------------------------------------------

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, Any]:
        """POST with bounded retries on 429/503 and connection failures; (status, headers,
        parsed JSON body or None)."""
        attempt = 0
        while True:
            try:
                response = self._post_once(url, body, headers)
            except Unavailable as exc:
                if attempt >= self._retries:
                    raise
                self._pause(self._delay(None, attempt), exc.user_message, attempt)
                attempt += 1
                continue
            if response.status_code in RETRY_STATUS and attempt < self._retries:
                wait = self._delay(response.headers.get("retry-after"), attempt)
                self._pause(wait, f"HTTP {response.status_code}", attempt)
                attempt += 1
                continue
            try:
                parsed = response.json() if response.content else None
            except ValueError:
                parsed = None
            return response.status_code, response.headers, parsed

    def _post_once(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        if deadline.expired():
            raise self._out_of_time()
        token = self._tokens.bearer(self._scope)  # AuthError from the token source goes up
        self._seen_tokens.add(token)
        headers = {**headers, "Authorization": f"Bearer {token}"}
        try:
            side = getattr(self._side_call, "active", False)
            with self._slots if not side else nullcontext(), deadline.budget(self._timeout_s):
                return self._http.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            if deadline.expired():
                raise self._out_of_time() from exc
            raise ProviderTimeout(
                f"Exchange Online did not answer within {self._timeout_s:g}s",
                detail=type(exc).__name__,
            ) from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                f"cannot reach Exchange Online ({type(exc).__name__})",
                detail=self.scrub(str(exc)),
            ) from exc

    def _batch_once(self, commands: Mapping[str, Command]) -> dict[str, tuple[int, Any, Any]]:
        requests = [
            {
                "id": key,
                "method": "POST",
                "url": self._invoke_url + command.query(),
                "headers": invoke_headers(command, self._anchor),
                "body": command.body(),
            }
            for key, command in commands.items()
        ]
        payload = json.dumps({"requests": requests}, ensure_ascii=False).encode()
        status, _, body = self._post(self._batch_url, payload, batch_headers(self._anchor))
        whole = outcome_of(None, status, body, self.scrub)
        if whole.failure is not None:
            raise whole.failure
        if whole.record is not None or status != 200:
            raise ProtocolError(
                f"Exchange Online refused the $batch request (HTTP {status}).",
                detail=self.scrub(str(whole.record or "")),
            )
        responses = body.get("responses") if isinstance(body, dict) else None
        if not isinstance(responses, list):
            raise ProtocolError("Exchange Online's $batch reply has no responses list.")
        answers: dict[str, tuple[int, Any, Any]] = {}
        for item in responses:
            if isinstance(item, dict) and str(item.get("id")) in commands:
                raw = item.get("headers")
                lowered = {str(k).lower(): str(v) for k, v in (raw or {}).items()}
                answers[str(item["id"])] = (int(item.get("status") or 0), lowered, item.get("body"))
        return answers

    # -- replies --------------------------------------------------------------------------------

    def _sub_outcome(self, command: Command, status: int, body: Any) -> Outcome:
        outcome = outcome_of(command, status, body, self.scrub)
        next_link = body.get("@odata.nextLink") if isinstance(body, dict) else None
        if not outcome.ok or not next_link:
            return outcome
        return self.invoke(command)  # more pages: fetch the whole answer the plain way

    def _same_origin(self, link: str) -> str:
        """A next-page link may only point back at the Exchange endpoint: the bearer token
        goes with it."""
        url, base = httpx.URL(link), httpx.URL(self._base)
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise ProtocolError(
                "Exchange Online sent a next-page link to another host.",
                detail=f"host {url.host!r}",
            )
        return link

    # -- waiting ----------------------------------------------------------------------------------

    def _delay(self, retry_after: str | None, attempt: int) -> float:
        base = parse_retry_after(retry_after, self._backoff_s * 2**attempt)
        return base * (1.0 + random.random() / 4)  # never sooner than the server asked

    def _pause(self, seconds: float, why: str, attempt: int) -> None:
        left = deadline.remaining()
        if left is not None and left <= seconds:
            raise self._out_of_time()
        log.warning(
            "Exchange Online: %s; retry %d/%d in %.2fs", why, attempt + 1, self._retries, seconds
        )
        self.sleep(seconds)

    def _out_of_time(self) -> ProviderTimeout:
        return ProviderTimeout(
            "Exchange Online did not finish before the request's time ran out",
            detail="caller's deadline passed",
        )
