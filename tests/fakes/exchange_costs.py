"""What each Exchange Online cmdlet costs the fake tenant, and a record of every call.

A real ``Set-CASMailbox`` is an HTTPS round trip to Exchange Online (the V3 module's REST
``InvokeCommand``), so a batch of N mailboxes costs one connect plus N times the per-mailbox
cmdlets, not a flat amount. ``FakeExchangeOrg`` charges ``CmdletCosts`` here for each cmdlet the
script runs, in the order exchange.ps1 runs them. The charge is a real sleep taken OUTSIDE the
tenant's lock (two sessions' round trips overlap, as on a real host) and is also added to a
simulated clock, so tests can check the cost model without timing anything. Costs default to 0.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields

__all__ = ["CMDLETS", "CmdletCall", "CmdletClock", "CmdletCosts"]

# cmdlet name -> CmdletCosts field
CMDLETS: dict[str, str] = {
    "Connect-ExchangeOnline": "connect",
    "Get-TransportConfig": "get_transport",
    "Set-TransportConfig": "set_transport",
    "Get-CASMailbox": "get_cas",
    "Set-CASMailbox": "set_cas",
    "Disconnect-ExchangeOnline": "disconnect",
}


@dataclass
class CmdletCosts:
    """Seconds each cmdlet takes on the (fake) host, connect including the module's sign-in."""

    connect: float = 0.0
    get_transport: float = 0.0
    set_transport: float = 0.0
    get_cas: float = 0.0
    set_cas: float = 0.0
    disconnect: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"{f.name} cost must not be negative")

    def of(self, cmdlet: str) -> float:
        return float(getattr(self, CMDLETS[cmdlet]))


@dataclass(frozen=True)
class CmdletCall:
    """One cmdlet the script ran: which, in which script run, with which identity (if any)."""

    run: int
    cmdlet: str
    identity: str = ""


class CmdletClock:
    """Charges cmdlet costs; thread-safe. ``sleep`` is replaceable (tests: no real waiting)."""

    def __init__(self, costs: CmdletCosts | None = None) -> None:
        self.costs = costs or CmdletCosts()
        self.sleep: Callable[[float], None] = time.sleep
        self.calls: list[CmdletCall] = []
        self.simulated_s = 0.0  # all runs together
        self.run_s: dict[int, float] = {}  # per script run
        self._runs = 0
        self._lock = threading.Lock()

    def new_run(self) -> int:
        with self._lock:
            self._runs += 1
            self.run_s[self._runs] = 0.0
            return self._runs

    def charge(self, run: int, cmdlet: str, identity: str = "") -> None:
        """Record one call and take its time (the caller must not hold the tenant's lock)."""
        cost = self.costs.of(cmdlet)
        with self._lock:
            self.calls.append(CmdletCall(run, cmdlet, identity))
            self.simulated_s += cost
            self.run_s[run] += cost
        if cost > 0:
            self.sleep(cost)

    def counts(self, run: int | None = None) -> Counter[str]:
        """Calls per cmdlet name (of one run, or of all)."""
        with self._lock:
            return Counter(c.cmdlet for c in self.calls if run is None or c.run == run)

    def by_identity(self, identity: str) -> list[str]:
        """The cmdlets run for one identity (a mailbox's UPN as sent, or its GUID), in order."""
        with self._lock:
            return [c.cmdlet for c in self.calls if c.identity.lower() == identity.lower()]
