"""The break-glass CLI takes `--all-accounts` too: the same grammar, the same request."""

from __future__ import annotations

import re

from tests.bot.test_cli import Cli, cli  # noqa: F401  (the fixture)


def test_request_all_accounts_from_the_cli(cli: Cli) -> None:  # noqa: F811
    for user in ("ann", "ben", "cal"):
        cli.whm.add_account(user, f"{user}.test")
    cli.whm.set_account_state("cal", outgoing_mail_suspended=1)
    request = cli.run("request", "disable", "acme", "--all-accounts", "--reason", "outbreak")
    assert request.code == 0, request
    request_id = int(re.search(r"Request #(\d+) stored", request.out).group(1))  # type: ignore[union-attr]
    approve = cli.run("approve", str(request_id), user="bob")
    assert approve.code == 0, approve
    assert all(cli.whm.account_state(u)["outgoing_mail_suspended"] for u in ("ann", "ben", "cal"))
    refused = cli.run("request", "disable", "acme", "account:ann", "--all-accounts")
    assert refused.code != 0 and "--all-accounts takes no targets" in refused.err + refused.out
