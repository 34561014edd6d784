"""Secrets are masked in every form an exception text can carry them, and a back end that
echoes a secret (as a value, a flag, a key, an error) cannot get it past the bot's boundary."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from urllib.parse import quote, quote_plus

import pytest

from bot.ops import redaction
from bot.ops.redaction import MASK, RedactingFilter, Scrubber
from bot.ops.scrubbed import ScrubbedProvider
from providers import ProviderError, Scope, Target, TargetResult, TargetState, Verb

# characters that every escaping changes: newline, backslash, quotes, '%', '/', '+', space, é
SECRET = "Tok\\en/+ 'q\"%é\tZ9"
PLAIN = "S3CRET-whm-T0KEN-9f8e7d6c5b4a"


def _lower_hex(encoded: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)


def _forms(secret: str) -> dict[str, str]:
    return {
        "raw": f"error: {secret} end",
        "quoted": f"error: '{secret}' end",
        "repr": f"error: {secret!r}",
        "repr of repr": f"error: {repr(repr(secret))}",
        "bytes repr": f"Illegal header value {('whm root:' + secret + chr(10)).encode()!r}",
        "json": json.dumps({"detail": f"whm root:{secret}"}),
        "url upper": f"GET /json-api/x?token={quote(secret, safe='')}",
        "url lower": f"GET /json-api/x?token={_lower_hex(quote(secret, safe=''))}",
        "url default safe": f"path {quote(secret)}",
        "url plus": f"form {quote_plus(secret, safe='')}",
    }


@pytest.mark.parametrize("secret", [SECRET, PLAIN], ids=["odd", "plain"])
@pytest.mark.parametrize("form", list(_forms(PLAIN)))
def test_every_form_of_a_secret_is_masked(secret: str, form: str) -> None:
    text = _forms(secret)[form]
    clean = Scrubber([secret])(text)
    assert MASK in clean, (form, text)
    for leftover in ("Z9",) if secret == SECRET else ("T0KEN", "9f8e7d"):
        assert leftover not in clean, (form, clean)


def test_text_without_a_secret_is_unchanged() -> None:
    text = "outgoing mail suspended for a@b.test (100% done)"
    assert Scrubber([SECRET, PLAIN])(text) == text


def test_the_log_filter_masks_every_form() -> None:
    record = logging.LogRecord("x", logging.ERROR, "f", 1, "failed: %s", (repr(SECRET),), None)
    RedactingFilter([SECRET]).filter(record)
    assert "Tok" not in record.getMessage() and MASK in record.getMessage()


class _EchoingProvider:
    """A back end that sends the token back: in a flag, as a key, in an error."""

    kind = "whm"

    def capabilities(self) -> frozenset[tuple[Scope, Verb]]:
        return frozenset({(Scope.MAILBOX, Verb.STATUS)})

    def _results(self, targets: Sequence[Target]) -> list[TargetResult]:
        facts = {"suspended_outgoing": PLAIN, PLAIN: 1, "nested": [{"k": repr(PLAIN)}]}
        return [
            TargetResult(targets[0], state=TargetState(targets[0], f"flag {PLAIN}", facts)),
            TargetResult(
                targets[0],
                error=ProviderError(f"WHM sent {PLAIN!r}", detail=f"b'whm root:{PLAIN}\\n'"),
            ),
            TargetResult(targets[0], planned=(f"suspend?token={_lower_hex(quote(PLAIN))}",)),
        ]

    def check_targets(self, targets: Sequence[Target]) -> list[TargetResult]:
        return self._results(targets)

    def status(self, targets: Sequence[Target]) -> list[TargetResult]:
        raise ProviderError(f"rejected {PLAIN}", detail=json.dumps({PLAIN: "x"}))

    def apply(self, verb: Verb, targets: Sequence[Target]) -> list[TargetResult]:
        return self._results(targets)

    def close(self) -> None:
        """Nothing to release: this provider holds no connection."""


def test_a_provider_echoing_its_token_is_scrubbed_at_the_boundary() -> None:
    provider = ScrubbedProvider(_EchoingProvider(), [PLAIN])  # type: ignore[arg-type]
    target = Target.parse("a@acme.test")
    for results in (provider.check_targets([target]), provider.apply(Verb.DISABLE, [target])):
        seen = repr(
            [
                (r.message, r.state and dict(r.state.facts), r.error and r.error.detail, r.planned)
                for r in results
            ]
        )
        assert "T0KEN" not in seen and MASK in seen, seen
        assert results[0].state is not None and results[0].state.facts[MASK] == 1  # a key too
    with pytest.raises(ProviderError) as raised:
        provider.status([target])
    assert "T0KEN" not in raised.value.user_message + raised.value.detail + str(raised.value)


def test_secrets_registered_by_the_process_are_scrubbed_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redaction, "_active", Scrubber())
    redaction.register_secrets(["xoxb-process-secret"])
    provider = ScrubbedProvider(_EchoingProvider())  # type: ignore[arg-type]
    with pytest.raises(ProviderError):
        provider.status([Target.parse("a@acme.test")])
    assert redaction.scrub("Bearer xoxb-process-secret") == f"Bearer {MASK}"
