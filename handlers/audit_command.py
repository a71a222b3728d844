"""`/qc audit [project]`: the recent audit trail, as readable lines only the asker sees.

Approvers read everything; anyone else reads the events of their own requests (bot/policy.py). The answer
comes after the ack: deciding who is an approver may ask Slack for user-group members.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.audit_export import event_line
from bot.blocks.common import MESSAGE_BLOCK_LIMIT, Block, chunk_lines, context, escape, section
from bot.echo import echo
from bot.numbers import id_problem, is_ascii_digits, parse_id
from bot.request_ids import is_request_id
from bot.store.models import AuditEvent
from handlers.commands import CommandContext, subcommand

if TYPE_CHECKING:
    from bot.policy import ReadScope
    from bot.services import Services

RECENT_EVENTS = 50
# How far back a project name is looked up among requests (names live on requests, not on events).
NAME_LOOKUP_LIMIT = 500
# A requester's own trail: the events of their latest requests.
OWN_REQUESTS = 20
QUERY_LIMIT = 200


def _own_events(services: Services, user_id: str, project_id: int | None) -> list[AuditEvent]:
    """The newest events of the user's own requests (of one project, if given), oldest first."""
    store = services.store
    events: list[AuditEvent] = []
    for request in store.list_requests(requester_id=user_id, project_id=project_id, limit=OWN_REQUESTS):
        events += store.events(request_id=request.id, limit=RECENT_EVENTS)
    events.sort(key=lambda event: event.id)
    return events[-RECENT_EVENTS:]


def _find_events(services: Services, scope: ReadScope, query: str) -> tuple[str, list[AuditEvent]] | str:
    """(what was searched, events) for a project id, request id or project name; a message when refused."""
    store = services.store
    user_id = scope.user_id
    if len(query) > QUERY_LIMIT:
        return f"That is too long for a project name or id ({len(query)} characters; at most {QUERY_LIMIT})."
    if not query:
        if scope.everything:
            return "everything", store.events(limit=RECENT_EVENTS)
        return "your requests", _own_events(services, user_id, None)
    project_id = parse_id(query)
    if project_id is None and is_ascii_digits(query):
        return id_problem(query, "a project id")
    if project_id is not None:
        if scope.everything:
            return f"project `{project_id}`", store.events(project_id=project_id, limit=RECENT_EVENTS)
        return f"your requests for project `{project_id}`", _own_events(services, user_id, project_id)
    if is_request_id(query):
        request = store.get_request(query)
        if request is not None:
            decision = services.policy.may_read_request(request, user_id, what="the audit trail")
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
            return f"your requests for {label}", _own_events(services, user_id, request.project_id)
    whose = "" if scope.everything else " among your requests"
    return (
        f"I know no request{whose} for a project called *{echo(query)}*. Give the QuantConnect project id "
        "(e.g. `/qc audit 12345678`) or a request id (e.g. `/qc audit r-7f3a9c2b`)."
    )


def audit_answer(services: Services, user_id: str, query: str) -> tuple[str, list[Block] | None]:
    """The `/qc audit` reply for this user: (text, blocks), or (refusal, None)."""
    scope = services.policy.read_scope(user_id)
    found = _find_events(services, scope, query.strip())
    if isinstance(found, str):
        return found, None
    label, events = found
    limited = "" if scope.everything else " Approvers see everyone's trail; you see your own requests."
    if not events:
        return f"The audit trail has no events for {label} yet.{limited}", None
    title = f"*Audit trail for {label}* — the last {len(events)} events, oldest first (times UTC)"
    sections = [section(chunk) for chunk in chunk_lines(event_line(event) for event in events)]
    footer = context(
        "Export everything with `python -m bot audit --since YYYY-MM-DD --format csv`." + limited
    )
    room = MESSAGE_BLOCK_LIMIT - 2
    return f"Audit trail for {label}: {len(events)} events", [section(title), *sections[-room:], footer]


@subcommand(
    "audit",
    "show the recent audit trail (who asked, approved, stopped; every status) for everything or one project; "
    "approvers see all, others their own requests",
    "/qc audit 12345678",
)
def audit(ctx: CommandContext) -> None:
    """Acknowledge, then answer privately with the newest events, oldest first, split to fit a message."""
    ctx.ack()
    text, blocks = audit_answer(ctx.services, ctx.user_id, ctx.args)
    ctx.services.notifier.ephemeral(ctx.channel_id, ctx.user_id, text, blocks)
