"""Reading and changing WHM Tweak Settings (``get_tweaksetting`` / ``set_tweaksetting``).

Several settings in one request apply together: each is read first (its previous value),
set, and read back; when one fails, the ones already changed are set back to their previous
values and read again, and every result says what happened to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from providers.base import TargetResult, TargetState
from providers.errors import ProtocolError, ProviderError, VerificationFailed
from providers.targets import Target
from providers.whm_client import WhmClient
from providers.whm_tweaks import Tweak, shown_value, split_target, tweak_of, whm_value

__all__ = ["RolledBack", "TweakSettings"]


class RolledBack(ProviderError):
    """A setting that was changed, then put back because another one in its request failed."""

    kind = "rolled_back"


@dataclass(frozen=True, slots=True)
class _Done:
    target: Target
    tweak: Tweak
    previous: str


class TweakSettings:
    """The Tweak Settings of one WHM server, through its client."""

    def __init__(self, client: WhmClient, *, dry_run: bool = False) -> None:
        self._client = client
        self._dry_run = dry_run

    def value(self, t: Tweak) -> str:
        """The current value in the words people type (``on``, ``200``, ``unlimited``…)."""
        reply = self._client.call("get_tweaksetting", {"key": t.key})
        data = reply.get("data")
        setting = data.get("tweaksetting") if isinstance(data, dict) else None
        if not isinstance(setting, dict):
            raise ProtocolError(f"WHM get_tweaksetting reply for {t.key} has no data.tweaksetting")
        raw = setting.get("value")
        if raw is not None and not isinstance(raw, str | int | float):
            raise ProtocolError(f"WHM get_tweaksetting sent a non-scalar value for {t.key}")
        return shown_value(t, raw)

    def state(self, target: Target) -> TargetState:
        """One setting as read now; ``restorable`` says whether set_tweaksetting could put
        this value back (an unset "unlimited" cannot be sent)."""
        t = tweak_of(target)
        value = self.value(t)
        facts = {"key": t.key, "value": value, "restorable": not _unset(t, value)}
        return TargetState(target, f"{t.label}: {value}; {t.what}", facts)

    def apply(self, targets: Sequence[Target]) -> list[TargetResult]:
        """Set every target's value, together: all verified, or the changed ones put back."""
        try:
            checked = [(target, *split_target(target)) for target in targets]
        except ProviderError as exc:  # nothing is changed unless every setting is valid
            exc.before_change = True
            return [TargetResult(target, error=exc) for target in targets]
        results: dict[Target, TargetResult] = {}
        done: list[_Done] = []
        for position, (target, t, value) in enumerate(checked):
            try:
                previous = self.value(t)
            except ProviderError as exc:
                exc.before_change = True
                return self._undo(checked, position, done, results, target, exc)
            if self._dry_run:
                plan = f"set_tweaksetting key={t.key} value={whm_value(t, value)}"
                state = TargetState(target, f"{t.label}: {previous}", {"value": previous})
                results[target] = TargetResult(target, state=state, planned=(plan,))
                continue
            try:
                self._set(t, value)
                done.append(_Done(target, t, previous))
                now = self._verified(t, value)
            except ProviderError as exc:
                return self._undo(checked, position, done, results, target, exc)
            facts = {"key": t.key, "value": now, "previous": previous, "verified": True}
            summary = f"{t.label}: {previous} → {now}"
            results[target] = TargetResult(target, state=TargetState(target, summary, facts))
        return [results[target] for target, _, _ in checked]

    # -- steps -------------------------------------------------------------------------------

    def _set(self, t: Tweak, value: str) -> None:
        self._client.call("set_tweaksetting", {"key": t.key, "value": whm_value(t, value)})

    def _verified(self, t: Tweak, value: str) -> str:
        now = self.value(t)
        if now != value:
            raise VerificationFailed(
                f"WHM accepted {t.key}={value} but it now reads {now}",
                detail=f"get_tweaksetting {t.key}={now!r}, expected {value!r}",
            )
        return now

    def _undo(
        self,
        checked: list[tuple[Target, Tweak, str]],
        position: int,
        done: list[_Done],
        results: dict[Target, TargetResult],
        failed: Target,
        error: ProviderError,
    ) -> list[TargetResult]:
        """``failed`` did not apply: put back what changed, newest first, and say so."""
        key = split_target(failed)[0].key
        results[failed] = TargetResult(failed, error=error)
        for item in reversed(done):
            if item.target == failed:
                results[failed] = TargetResult(failed, error=self._put_back_failed(item, error))
                continue
            results[item.target] = TargetResult(item.target, error=self._put_back(item, key))
        for target, t, _ in checked[position + 1 :]:
            results[target] = TargetResult(
                target,
                error=ProviderError(
                    f"not changed: {key} failed first, so {t.key} was left as it was",
                    before_change=True,
                ),
            )
        return [results[target] for target, _, _ in checked]

    def _put_back(self, item: _Done, because: str) -> ProviderError:
        t = item.tweak
        try:
            self._set(t, item.previous)
            self._verified(t, item.previous)
        except ProviderError as exc:
            return ProviderError(
                f"changed, but could NOT be put back to {item.previous} after {because} failed "
                f"({exc.user_message}); check {t.key} in WHM » Tweak Settings",
                detail=exc.detail,
            )
        return RolledBack(
            f"put back to {item.previous} (read back) because {because} failed; "
            "the request changed nothing"
        )

    def _put_back_failed(self, item: _Done, error: ProviderError) -> ProviderError:
        """The failing setting itself was set (its read-back disagreed): try to restore it."""
        restored = self._put_back(item, item.tweak.key)
        if isinstance(restored, RolledBack):
            return type(error)(
                f"{error.user_message}; put back to {item.previous}", detail=error.detail
            )
        return restored


def _unset(t: Tweak, value: str) -> bool:
    return bool(t.unset_means) and value == t.unset_means
