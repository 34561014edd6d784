"""How one Exchange batch is spread over PowerShell sessions that run at the same time.

A session is one WinRM command with its own Connect-ExchangeOnline (seconds), and then each
mailbox costs its own round trips to Exchange Online: resolve (Get-CASMailbox), change
(Set-CASMailbox) and read back (Get-CASMailbox). At ~300 ms a cmdlet one session needs ~15 min
for 1,000 mailboxes, past the 900 s command limit; ``max_concurrency`` sessions divide that
(docs/BENCHMARKS.md). A session gets at least ``MIN_PER_SESSION`` mailboxes, so a small batch
does not pay extra sign-ins for nothing. A batch with a tenant-scope target stays in one
session: its items run in the order given (mailbox exceptions before the org switch).
"""

from __future__ import annotations

from collections.abc import Sequence

from providers.targets import Scope, Target

__all__ = ["MIN_PER_SESSION", "session_chunks"]

MIN_PER_SESSION = 25  # ~25 x 0.9 s of cmdlets: several times one Connect-ExchangeOnline


def session_chunks(targets: Sequence[Target], sessions: int) -> list[list[Target]]:
    """Contiguous, balanced slices of ``targets``, one per session (at most ``sessions``)."""
    if sessions <= 1 or any(t.scope is not Scope.MAILBOX for t in targets):
        return [list(targets)]
    count = max(1, min(sessions, len(targets) // MIN_PER_SESSION))
    size, extra = divmod(len(targets), count)
    chunks: list[list[Target]] = []
    start = 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        chunks.append(list(targets[start:end]))
        start = end
    return chunks
