"""The bot's boundary with its back ends: every reply is scrubbed of secrets on the way in.

A misbehaving back end can echo a token anywhere: in an error text, where a 0/1 flag was
expected, as a JSON key. What a provider returns becomes Slack messages, cards and audit
details, so ``ScrubbedProvider`` cleans each result (summary, facts with their keys, error
message and detail, planned calls) and each raised ProviderError before any of that is built.
providers/ cannot do it for the bot: it knows nothing of Slack or the database.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bot.ops.redaction import Scrubber, scrub
from providers import Provider, ProviderError, Scope, Target, TargetResult, TargetState, Verb

__all__ = ["ScrubbedProvider"]


class ScrubbedProvider:
    """A Provider whose results and errors carry no known secret (the tenant's own, and
    every secret the process registered with ``bot.ops.redaction``)."""

    def __init__(self, inner: Provider, secrets: Sequence[str] = ()) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.batch_size: int | None = getattr(inner, "batch_size", None)
        self._own = Scrubber(secrets)

    def __getattr__(self, name: str) -> Any:  # anything else a caller reads of the provider
        return getattr(self.inner, name)

    def _text(self, text: str) -> str:
        return scrub(self._own(text))

    def _value(self, value: object) -> object:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, dict):
            return {
                (self._text(k) if isinstance(k, str) else k): self._value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self._value(v) for v in value)
        return value

    def _error(self, error: ProviderError) -> ProviderError:
        clean = copy.copy(error)
        clean.user_message = self._text(error.user_message)
        clean.detail = self._text(error.detail)
        clean.args = (clean.user_message,)
        return clean

    def _result(self, result: TargetResult) -> TargetResult:
        state: TargetState | None = result.state
        if state is not None:
            facts = self._value(dict(state.facts))
            assert isinstance(facts, dict)
            state = replace(state, summary=self._text(state.summary), facts=facts)
        error = self._error(result.error) if result.error is not None else None
        planned = tuple(self._text(p) for p in result.planned)
        return replace(result, state=state, error=error, planned=planned)

    def _call(self, results: list[TargetResult]) -> list[TargetResult]:
        return [self._result(r) for r in results]

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        return self.inner.capabilities()

    def check_targets(self, targets: Sequence[Target]) -> list[TargetResult]:
        try:
            return self._call(self.inner.check_targets(targets))
        except ProviderError as exc:
            raise self._error(exc) from None

    def status(self, targets: Sequence[Target]) -> list[TargetResult]:
        try:
            return self._call(self.inner.status(targets))
        except ProviderError as exc:
            raise self._error(exc) from None

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        try:
            return self._call(self.inner.apply(verb, targets))
        except ProviderError as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        self.inner.close()
