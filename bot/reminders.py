"""Reminds the approvers of a pending real-money request once, halfway through its time to live."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.blocks.alerts import mentions, reminder_text
from bot.blocks.card import slack_date
from bot.store.models import DeployRequest, Notice
from bot.store.outbox import THREAD

if TYPE_CHECKING:
    from bot.config import PolicySettings
    from bot.store import Store

log = logging.getLogger("bot.reminders")


class ApprovalReminders:
    """One pass: claim each due reminder and queue it with the claim (see bot/store/reminders.py)."""

    def __init__(self, store: Store, policy: PolicySettings) -> None:
        self.store = store
        self.policy = policy

    def run(self, now: datetime) -> int:
        """Remind what is due at `now`; returns how many reminders this pass claimed."""
        sent = 0
        for request in self.store.due_reminders(now):
            if self.store.claim_reminder(request.id, now, self.notices):
                log.info("approvers reminded", extra={"request_id": request.id})
                sent += 1
        return sent

    def notices(self, request: DeployRequest) -> list[Notice]:
        """The reminder: a broadcast thread reply mentioning the approvers who have not approved yet."""
        approved = set(self.store.approvals(request.id))
        users = [u for u in sorted(self.policy.approver_user_ids) if u not in approved]
        who = mentions(users, sorted(self.policy.approver_group_ids))
        expires = slack_date(request.expires_at) if request.expires_at is not None else "soon"
        text = reminder_text(who, request.project_name, request.id, expires)
        return [Notice(kind=THREAD, text=text, broadcast=True)]
