"""`/qc audit [project]`: the recent audit trail, as readable lines only the asker sees.

The answer comes after the ack: deciding who is an approver may ask Slack for user-group members.
"""

from __future__ import annotations

from bot.audit_trail import AuditFound
from bot.blocks.audit import audit_message
from handlers.commands import CommandContext, subcommand


@subcommand(
    "audit",
    "show the recent audit trail (who asked, approved, stopped; every status) for everything or one project; "
    "approvers see all, others their own requests",
    "/qc audit 12345678",
)
def audit(ctx: CommandContext) -> None:
    """Acknowledge, then answer privately with the newest events, oldest first, split to fit a message."""
    ctx.ack()
    found = ctx.services.audit.find(ctx.user_id, ctx.args)
    if isinstance(found, AuditFound):
        text, blocks = audit_message(found.label, found.events, everything=found.everything)
    else:
        text, blocks = found, None
    ctx.tell(text, blocks)
