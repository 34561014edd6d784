"""Break-glass commands: request, approve, deny, cancel, list and card, without Slack.

Same workflow, policies and audit trail as the Slack app; the actor is ``cli:<os-user>``.
Refusals raise (the caller turns them into one line and exit status 3); Slack failures never
fail a command, because the request in the database is what counts.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import socket
import sys
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from approvals import RequestStatus, RequestView, TargetOutcome
from approvals.models import utcnow
from approvals.policy import CLI_ACTOR_PREFIX
from bot.cli.args import EXIT_FAILED
from bot.cli.breakglass_slack import BreakGlassClient, card_notes, slack_reason
from bot.commands import grammar
from bot.config.durations import parse_duration
from bot.errors import CommandError, ConfigError, UsageError

if TYPE_CHECKING:
    from bot.runtime import Runtime

__all__ = ["cli_actor", "run"]

_SHOWN_TARGETS = 3
_POLL_S = 0.2


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def cli_actor() -> str:
    """``cli:<os-user>``: how the workflow and the audit trail name a CLI user.

    The name comes from the real user ID, not from LOGNAME/USER, which anyone can set to
    pose as somebody else (and so get around the self-approval rule)."""
    try:
        return CLI_ACTOR_PREFIX + pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        raise ConfigError(f"user ID {os.getuid()} has no account name") from None


def run(args: argparse.Namespace, rt: Runtime, client: BreakGlassClient) -> int:
    handler = {
        "request": _request,
        "approve": _approve,
        "deny": _deny,
        "cancel": _cancel,
        "list": _list,
        "card": _card,
    }[args.command]
    return handler(args, rt, client)


# --- request and card ----------------------------------------------------------------------


def _parse_change(args: argparse.Namespace) -> grammar.Change:
    """The same grammar as the slash command, so both accept and refuse the same input."""
    for token in (args.tenant, *args.targets):
        if not token or token.startswith("-") or any(ch.isspace() for ch in token):
            raise UsageError(f"“{token}” is not a tenant or target name.", verb=args.verb)
    text = " ".join((args.verb, args.tenant, *args.targets))
    if args.duration is not None:
        if not args.duration or any(ch.isspace() for ch in args.duration):
            try:  # the same words as every other duration error, hint included
                parse_duration(args.duration)
            except ValueError as exc:
                raise UsageError(str(exc), verb=args.verb) from None
            raise UsageError(f"“{args.duration}” is not a duration.", verb=args.verb)
        text += " --for " + args.duration
    if getattr(args, "all_accounts", False):
        text += " --all-accounts"
    if args.reason is not None:
        text += " --reason " + args.reason
    parsed = grammar.parse(text)
    assert isinstance(parsed, grammar.Change)
    return parsed


def _request(args: argparse.Namespace, rt: Runtime, client: BreakGlassClient) -> int:
    actor = cli_actor()
    try:
        change = _parse_change(args)
        rt.service.precheck(change)
        view = rt.service.submit(change, requester=actor)
    except CommandError as exc:
        tenant = args.tenant if args.tenant in rt.config.tenants else None
        rt.workflow.refuse_input(actor=actor, tenant=tenant, verb=args.verb, problem=str(exc))
        raise
    req = view.request
    out(f"Request #{view.id} stored: {req.verb} on {req.tenant}, {_targets(view)}, by {actor}.")
    expires = f"{req.expires_at:%Y-%m-%d %H:%M} UTC"
    out(f"It needs {req.approvals_required} approval(s) and expires at {expires}.")
    if req.revert_verb and args.duration:
        out(f"Once done, it is undone ({req.revert_verb}) automatically after {args.duration}.")
    if not _post_card(rt, client, view, args.channel):
        _how_to_approve(rt, view)
    return 0


def _card(args: argparse.Namespace, rt: Runtime, client: BreakGlassClient) -> int:
    view = rt.workflow.get(args.id)
    if view.status is not RequestStatus.PENDING:
        raise CommandError(
            f"Request #{view.id} is {view.status.value}; only pending requests get a card."
        )
    if view.request.card_ref:
        updated = rt.cards.update(view)
        out(
            f"Request #{view.id} already has a card; " + ("redrawn." if updated else "not redrawn.")
        )
        return 0 if updated else 1
    return 0 if _post_card(rt, client, view, args.channel) else 1


def _post_card(
    rt: Runtime, client: BreakGlassClient, view: RequestView, channel: str | None
) -> bool:
    """Post the approval card; a failure is reported, never raised."""
    channel = channel or rt.tenants.get(view.request.tenant).channel
    if channel is None:
        reason = f"{view.request.tenant} has no `channel` in the config (use --channel)"
    elif client.down is not None:
        reason = client.down
    else:
        try:
            rt.cards.post(view, channel)
        except (SlackApiError, OSError) as exc:
            reason = client.down or slack_reason(exc)
        else:
            out(f"Approval card posted in Slack channel {channel}.")
            _notify(rt, view)
            return True
    out(f"No approval card in Slack: {reason}.")
    return False


def _notify(rt: Runtime, view: RequestView) -> None:
    """Direct messages to the approvers, as for a request made in Slack (notify_approvers)."""
    tenant = view.request.tenant
    if not rt.tenants.get(tenant).notify_approvers:
        return
    try:
        sent = rt.notifier.notify(rt.workflow.get(view.id), rt.tenants.policy(tenant).approvers)
    except (SlackApiError, OSError) as exc:
        out(f"Approvers not notified: {slack_reason(exc)}.")
        return
    out(f"{sent} approver(s) notified by direct message.")


def _how_to_approve(rt: Runtime, view: RequestView) -> None:
    tenant = view.request.tenant
    if rt.tenants.policy(tenant).cli_can_approve:
        out(f"Someone else approves it with: smtp-bot approve {view.id}")
    else:
        out(f"{tenant} does not accept CLI approvals (cli_can_approve: false).")
    hint = "" if rt.tenants.get(tenant).channel else " --channel C…"
    out(f"For approval in Slack, post its card (once Slack answers): smtp-bot card {view.id}{hint}")


# --- deciding ------------------------------------------------------------------------------


def _approve(args: argparse.Namespace, rt: Runtime, client: BreakGlassClient) -> int:
    actor = cli_actor()
    outcome = rt.workflow.approve(args.id, actor=actor)
    view = outcome.view
    if not outcome.approved_now:
        rt.cards.update(view)
        out(f"Request #{view.id}: {_approvals(view)}; waiting for more approvals.")
        _notes(rt, view, client)
        return 0
    out(f"Request #{view.id} approved by {actor}: executing {view.request.verb} now…")
    if not rt.executor.run(view.id, worker=f"{actor}@{socket.gethostname()}"[:128]):
        out("The running bot's worker took the job; waiting for its results…")
    final = _wait_final(rt, view.id, args.wait)
    if final is None:
        out(f"Still not finished after {args.wait:.0f} s: see `smtp-bot audit export`.")
        return 1
    _print_results(final)
    _notes(rt, final, client)
    if final.status is RequestStatus.SUCCEEDED:
        return 0
    return EXIT_FAILED if final.status is RequestStatus.FAILED else 1


def _wait_final(rt: Runtime, request_id: int, timeout_s: float) -> RequestView | None:
    """The request once executed (at once if this process executed it), or None on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        view = rt.workflow.get(request_id)
        if view.status in (RequestStatus.SUCCEEDED, RequestStatus.FAILED):
            return view
        if time.monotonic() >= deadline:
            return None
        time.sleep(_POLL_S)


def _deny(args: argparse.Namespace, rt: Runtime, client: BreakGlassClient) -> int:
    actor = cli_actor()
    view = rt.workflow.deny(args.id, actor=actor, note=args.reason)
    if rt.cards.update(view):
        rt.cards.reply(view, f"Request #{view.id} was denied by `{actor}` (CLI).")
    out(
        f"Request #{view.id} denied by {actor}."
        + (f" Reason: {args.reason}" if args.reason else "")
    )
    _notes(rt, view, client)
    return 0


def _cancel(args: argparse.Namespace, rt: Runtime, client: BreakGlassClient) -> int:
    view = rt.workflow.cancel(args.id, actor=cli_actor())
    rt.cards.update(view)
    out(f"Request #{view.id} cancelled.")
    _notes(rt, view, client)
    return 0


def _notes(rt: Runtime, view: RequestView, client: BreakGlassClient) -> None:
    for note in card_notes(rt.workflow.get(view.id), client):
        out(note)


def _print_results(view: RequestView) -> None:
    ok = sum(t.outcome == TargetOutcome.SUCCEEDED.value for t in view.targets)
    out(f"Request #{view.id} {view.status.value}: {ok} of {len(view.targets)} target(s) done.")
    for t in view.targets:
        mark = "OK    " if t.outcome == TargetOutcome.SUCCEEDED.value else "FAILED"
        line = f"  {mark} {_label(t.target)}: {t.message or ''}"
        if t.state:
            facts = json.loads(t.state)
            line += " [" + ", ".join(f"{k}={v}" for k, v in sorted(facts.items())) + "]"
        out(line)
    if view.request.revert_at is not None:
        when = f"{view.request.revert_at:%Y-%m-%d %H:%M} UTC"
        out(f"The running bot undoes it ({view.request.revert_verb}) at {when}.")


# --- list ----------------------------------------------------------------------------------


def _list(args: argparse.Namespace, rt: Runtime, client: BreakGlassClient) -> int:
    if args.tenant is not None:
        rt.tenants.get(args.tenant)  # a typo is an error, not an empty list
    views = rt.workflow.pending(args.tenant)
    if not views:
        out("No pending requests" + (f" for {args.tenant}." if args.tenant else "."))
        return 0
    now = utcnow()
    rows = [("ID", "TENANT", "VERB", "TARGETS", "REQUESTER", "AGE", "APPROVALS")]
    for v in views:
        req = v.request
        age = _age(now - req.created_at) + (" (expired)" if req.expires_at <= now else "")
        approvals = f"{len(v.approvers)} of {req.approvals_required}"
        rows.append((f"#{v.id}", req.tenant, req.verb, _targets(v), req.requester, age, approvals))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _label(key: str) -> str:
    return "WHOLE TENANT" if key == "*" else key


def _targets(view: RequestView) -> str:
    names = [_label(t.target) for t in view.targets]
    shown = ", ".join(names[:_SHOWN_TARGETS])
    return shown + (f" +{len(names) - _SHOWN_TARGETS} more" if len(names) > _SHOWN_TARGETS else "")


def _approvals(view: RequestView) -> str:
    who = ", ".join(view.approvers) or "none"
    return f"{len(view.approvers)} of {view.request.approvals_required} approvals ({who})"


def _age(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"
