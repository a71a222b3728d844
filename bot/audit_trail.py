"""`/qc audit`'s look-up: the recent events of everything, a project or a request, as the asker may read.

Approvers read everything; anyone else reads the events of their own requests (bot/policy.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.blocks.common import escape
from bot.echo import echo
from bot.numbers import id_problem, is_ascii_digits, parse_id
from bot.request_ids import is_request_id

if TYPE_CHECKING:
    from bot.policy import Policy, ReadScope
    from bot.store import Store
    from bot.store.models import AuditEvent

RECENT_EVENTS = 50
# How far back a project name is looked up among requests (names live on requests, not on events).
NAME_LOOKUP_LIMIT = 500
# A requester's own trail: the events of their latest requests.
OWN_REQUESTS = 20
QUERY_LIMIT = 200


@dataclass(frozen=True)
class AuditFound:
    """The events found, oldest first, under a mrkdwn label; `everything` when the asker reads all."""

    label: str
    events: list[AuditEvent]
    everything: bool


class AuditTrail:
    """Finds the audit events one person may read, by project id, request id or project name."""

    def __init__(self, store: Store, policy: Policy) -> None:
        self.store = store
        self.policy = policy

    def find(self, user_id: str, query: str) -> AuditFound | str:
        """The events matching `query` that `user_id` may read; a message (mrkdwn) when refused."""
        scope = self.policy.read_scope(user_id)
        found = self._find(scope, query.strip())
        if isinstance(found, str):
            return found
        label, events = found
        return AuditFound(label, events, scope.everything)

    def _own_events(self, user_id: str, project_id: int | None) -> list[AuditEvent]:
        """The newest events of the user's own requests (of one project, if given), oldest first."""
        events: list[AuditEvent] = []
        for request in self.store.list_requests(
            requester_id=user_id, project_id=project_id, limit=OWN_REQUESTS
        ):
            events += self.store.events(request_id=request.id, limit=RECENT_EVENTS)
        events.sort(key=lambda event: event.id)
        return events[-RECENT_EVENTS:]

    def _find(self, scope: ReadScope, query: str) -> tuple[str, list[AuditEvent]] | str:
        """(what was searched, events) for a project id, request id or project name; or a refusal."""
        store = self.store
        user_id = scope.user_id
        if len(query) > QUERY_LIMIT:
            return (
                f"That is too long for a project name or id ({len(query)} characters; at most {QUERY_LIMIT})."
            )
        if not query:
            if scope.everything:
                return "everything", store.events(limit=RECENT_EVENTS)
            return "your requests", self._own_events(user_id, None)
        project_id = parse_id(query)
        if project_id is None and is_ascii_digits(query):
            return id_problem(query, "a project id")
        if project_id is not None:
            if scope.everything:
                return f"project `{project_id}`", store.events(project_id=project_id, limit=RECENT_EVENTS)
            return f"your requests for project `{project_id}`", self._own_events(user_id, project_id)
        if is_request_id(query):
            request = store.get_request(query)
            if request is not None:
                decision = self.policy.may_read_request(request, user_id, what="the audit trail")
                if not decision:
                    return decision.reason
                return f"request `{query}`", store.events(request_id=query, limit=RECENT_EVENTS)
        wanted = query.casefold()
        among = None if scope.everything else user_id
        for request in store.list_requests(requester_id=among, limit=NAME_LOOKUP_LIMIT):
            if request.project_name.casefold() == wanted:
                label = f"{escape(request.project_name)} (`{request.project_id}`)"
                if scope.everything:
                    return label, store.events(project_id=request.project_id, limit=RECENT_EVENTS)
                return f"your requests for {label}", self._own_events(user_id, request.project_id)
        whose = "" if scope.everything else " among your requests"
        return (
            f"I know no request{whose} for a project called *{echo(query)}*. Give the QuantConnect project "
            "id (e.g. `/qc audit 12345678`) or a request id (e.g. `/qc audit r-7f3a9c2b`)."
        )
