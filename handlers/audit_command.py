"""`/qc audit [project]`: the recent audit trail, as readable lines only the asker sees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.audit_export import event_line
from bot.blocks.common import MESSAGE_BLOCK_LIMIT, chunk_lines, context, escape, section
from bot.store.models import AuditEvent
from handlers.commands import CommandContext, subcommand

if TYPE_CHECKING:
    from bot.services import Services

RECENT_EVENTS = 50
# How far back a project name is looked up among requests (names live on requests, not on events).
NAME_LOOKUP_LIMIT = 500


def _find_events(services: Services, query: str) -> tuple[str, list[AuditEvent]] | str:
    """(what was searched, events) for a project id, request id or project name; a message when unknown."""
    store = services.store
    if not query:
        return "everything", store.events(limit=RECENT_EVENTS)
    if query.isdigit():
        return f"project `{query}`", store.events(project_id=int(query), limit=RECENT_EVENTS)
    if store.get_request(query) is not None:
        return f"request `{escape(query)}`", store.events(request_id=query, limit=RECENT_EVENTS)
    wanted = query.casefold()
    for request in store.list_requests(limit=NAME_LOOKUP_LIMIT):
        if request.project_name.casefold() == wanted:
            label = f"{escape(request.project_name)} (`{request.project_id}`)"
            return label, store.events(project_id=request.project_id, limit=RECENT_EVENTS)
    return (
        f"I know no request for a project called *{escape(query)}*. Give the QuantConnect project id "
        "(e.g. `/qc audit 12345678`) or a request id (e.g. `/qc audit r-7f3a9c2b`)."
    )


@subcommand(
    "audit",
    "show the recent audit trail (who asked, approved, stopped; every status), for everything or one project",
    "/qc audit 12345678",
)
def audit(ctx: CommandContext) -> None:
    """Answer with the newest events, oldest first, split to fit a message."""
    found = _find_events(ctx.services, ctx.args.strip())
    if isinstance(found, str):
        ctx.reply(found)
        return
    label, events = found
    if not events:
        ctx.reply(f"The audit trail has no events for {label} yet.")
        return
    title = f"*Audit trail for {label}* — the last {len(events)} events, oldest first (times UTC)"
    sections = [section(chunk) for chunk in chunk_lines(event_line(event) for event in events)]
    footer = context("Export everything with `python -m bot audit --since YYYY-MM-DD --format csv`.")
    room = MESSAGE_BLOCK_LIMIT - 2
    blocks = [section(title), *sections[-room:], footer]
    ctx.reply(f"Audit trail for {label}: {len(events)} events", blocks)
