"""Posting and updating approval cards and their threads through Slack's Web API.

A card post is recorded as pending before Slack is called, so a crash in between is
recovered (``recover_posts``). A failed update or result post backs off and, if Slack keeps
refusing it (``channel_not_found``…), is given up and recorded (``approvals.delivery``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import RequestView, Workflow
from approvals.delivery import CardDelivery, PendingPost
from approvals.models import ChangeRequest
from bot.commands.all_accounts_plan import AllAccountsPlan
from bot.commands.messages import ALL_ACCOUNTS, whole_tenant_note
from bot.commands.what_it_does import change_note
from bot.slack.card_recovery import CARD_EVENT, find_posted_card, reposted_note
from bot.slack.slack_errors import classify
from bot.slack.views import card, result_text

__all__ = ["Cards"]

log = logging.getLogger(__name__)

BACKOFF_MEMORY = 10_000
REDRAW_ROUNDS = 3  # redraws of one card per update while its request keeps changing


class Cards:
    """Keeps each request's card in Slack in step with the request."""

    def __init__(
        self,
        client: WebClient,
        workflow: Workflow,
        delivery: CardDelivery | None = None,
        *,
        asked: Callable[[str], Sequence[str]] | None = None,
        kind: Callable[[str], str] | None = None,
    ) -> None:
        self.client = client
        self.workflow = workflow
        self.asked = asked  # tenant → its approvers as configured, shown on the card
        self.kind = kind  # tenant → its back end ("whm", "exchange"): what a change does
        self.delivery = delivery or CardDelivery(workflow.db, workflow._clock)
        self.on_failure: Callable[[str], None] | None = None  # metrics count failures here
        # what this process last learnt, for callers holding a view read before a failure
        # (the executor redraws one view many times): request id -> retry at (None: given up)
        self._backoff: dict[int, datetime | None] = {}

    def post(self, view: RequestView, channel: str) -> None:
        """Post the card and remember where it is; raises what Slack raised.

        The post is pending in the database from before the call until the card's place is
        stored: a crash in between leaves it for ``recover_posts``, or for this method when
        the interaction is carried out again after the crash (it finds the card, or posts
        one that says it was re-posted). A post Slack refused (nothing was posted) is
        recorded as undeliverable at once: the poster tells the person, and
        ``smtp-bot check`` lists it."""
        req = view.request
        if req.card_ref is None and req.card_post_started_at is not None:
            started = req.card_post_started_at
            self._finish(view, PendingPost(view.id, req.card_channel or channel, started))
            return
        self._post(view, channel, reposted=False)

    def recover_posts(self) -> int:
        """Finish card posts a crash interrupted: find the card in the channel if the bot
        may read it, else post a fresh one that says so; returns how many were recovered."""
        recovered = 0
        for pending in self.delivery.interrupted_posts():
            if not self.delivery.claim_post(pending):
                continue  # another process is recovering it
            try:
                self._finish(self.workflow.get(pending.request_id), pending)
            except (SlackApiError, OSError):
                continue  # recorded by ``_post``; tried again once due
            recovered += 1
        return recovered

    def _finish(self, view: RequestView, pending: PendingPost) -> None:
        ts = find_posted_card(self.client, pending)
        if ts is None:
            log.info("re-posting the card of request %s", view.id)
            self._post(view, pending.channel, reposted=True)
            return
        log.info("found the card of request %s after an interrupted post", view.id)
        self.delivery.posted(view.id, channel=pending.channel, ref=ts, revision=0)
        self.update(self.workflow.get(view.id))  # revision 0: drawn again, whatever it shows

    def _post(self, view: RequestView, channel: str, *, reposted: bool) -> None:
        self.delivery.begin_post(view.id, channel)
        text, blocks = card(view, self._asked(view), self._note(view))
        if reposted:
            blocks = [*blocks, reposted_note()]
        try:
            response = self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                metadata={"event_type": CARD_EVENT, "event_payload": {"request_id": view.id}},
            )
        except (SlackApiError, OSError) as exc:
            failure = classify(exc)
            if failure.refused:
                self.delivery.post_refused(view.id)
            self._failed(view.id, exc, "card post", final=failure.refused)
            raise
        self.delivery.posted(
            view.id, channel=response["channel"], ref=response["ts"], revision=view.request.revision
        )
        self._backoff.pop(view.id, None)

    def _note(self, view: RequestView) -> str:
        """What a whole-server change does and does not stop, on its back end; what a login
        or limit change does."""
        if self.kind is None or not view.request.tenant_wide:
            return change_note(view.request.verb, [t.target for t in view.targets])
        if AllAccountsPlan.of(view.request) is not None:  # every account: WHM only
            return ALL_ACCOUNTS.get(view.request.verb, "")
        try:
            kind = self.kind(view.request.tenant)
        except Exception:  # a tenant removed from the config: the card still draws
            return ""
        return whole_tenant_note(kind, view.request.verb, [t.target for t in view.targets])

    def _asked(self, view: RequestView) -> Sequence[str]:
        if self.asked is None:
            return ()
        try:
            return self.asked(view.request.tenant)
        except Exception:  # a tenant removed from the config: the card still draws
            return ()

    def update(self, view: RequestView) -> bool:
        """Redraw the card. On failure the card stays out of date in the database, and
        ``sync`` retries it later; the request itself is unaffected.

        Two workers may redraw one card at once, and Slack keeps whichever lands last. So
        after each redraw the request's revision is read again, and a newer one is drawn
        too: the last redraw to land is then always of the latest revision."""
        for round_ in range(REDRAW_ROUNDS):
            shown = view.request.revision
            if not self._draw(view):
                if round_:  # a stale drawing of ours may be what the card shows
                    self.workflow.mark_card_stale(view.id)
                return False
            current = self.workflow.mark_card_synced(view.id, shown)
            if current <= shown:
                return True
            view = self.workflow.get(view.id)
        self.workflow.mark_card_stale(view.id)  # still moving: the housekeeper catches up
        return False

    def _draw(self, view: RequestView) -> bool:
        req = view.request
        if not req.card_channel or not req.card_ref or not self._due(req):
            return False
        text, blocks = card(view, self._asked(view), self._note(view))
        try:
            self.client.chat_update(
                channel=req.card_channel, ts=req.card_ref, text=text, blocks=blocks
            )
        except (SlackApiError, OSError) as exc:
            self._failed(view.id, exc, "card update")
            return False
        self._landed(req)
        return True

    def reply(self, view: RequestView, text: str) -> bool:
        """Post in the card's thread; False if Slack could not be reached or refused."""
        req = view.request
        if not req.card_channel or not req.card_ref or not self._due(req):
            return False
        try:
            self.client.chat_postMessage(
                channel=req.card_channel, thread_ts=req.card_ref, text=text
            )
        except (SlackApiError, OSError) as exc:
            self._failed(view.id, exc, "thread reply")
            return False
        self._landed(req)
        return True

    def _due(self, req: ChangeRequest) -> bool:
        """Not given up, and not backing off (as the view read it, or this process saw)."""
        if req.delivery_failed_at is not None:
            return False
        now = self.delivery.now()
        if req.id is not None and req.id in self._backoff:
            seen = self._backoff[req.id]
            if seen is None or seen > now:
                return False
        return req.delivery_retry_at is None or req.delivery_retry_at <= now

    def _landed(self, req: ChangeRequest) -> None:
        if req.id is not None and (self._backoff.pop(req.id, 0) != 0 or req.delivery_attempts):
            self.delivery.succeeded(req.id)

    def _failed(self, request_id: int, exc: Exception, what: str, *, final: bool = False) -> None:
        """Record the failure (back off, or give up); one log line with the error code."""
        failure = classify(exc)
        outcome = self.delivery.failed(
            request_id,
            failure.error,
            permanent=failure.permanent,
            retry_after_s=failure.retry_after_s,
            final=final,
        )
        if len(self._backoff) >= BACKOFF_MEMORY:
            self._backoff.clear()  # only a shortcut: the database has it all
        self._backoff[request_id] = None if outcome.gave_up else outcome.retry_at
        if self.on_failure is not None:
            self.on_failure(failure.error)
        if outcome.gave_up:
            log.error(
                "card delivery failed for request %s: %s (%s, gave up after %d attempt(s))",
                request_id,
                failure.error,
                what,
                outcome.attempts,
            )
        else:
            log.warning(
                "%s failed for request %s: %s (attempt %d, next try after %s)",
                what,
                request_id,
                failure.error,
                outcome.attempts,
                outcome.retry_at,
            )

    def post_result(self, view: RequestView) -> None:
        """Redraw the card and post the result in its thread, once across all processes."""
        self.update(view)
        if not self.workflow.claim_result_post(view.id):
            return
        if not self.reply(view, result_text(view, note=self._note(view))):
            self.workflow.release_result_post(view.id)

    def sync(self) -> int:
        """Bring stale cards and unposted results up to date; returns how many were fixed."""
        fixed = self.recover_posts()
        for view in self.workflow.cards_to_sync():
            fixed += self.update(view)
        for view in self.workflow.results_to_post():
            if self.workflow.claim_result_post(view.id):
                if self.reply(view, result_text(view, note=self._note(view))):
                    fixed += 1
                else:
                    self.workflow.release_result_post(view.id)
        return fixed

    def tell(self, channel: str, user: str, text: str) -> None:
        """An ephemeral message only ``user`` sees."""
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, text=text)
        except (SlackApiError, OSError) as exc:
            log.warning("ephemeral message failed: %s", _reason(exc))


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "slack error"))
    return type(exc).__name__
