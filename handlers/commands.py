"""The `/qc` slash command: one listener that dispatches on the first word to a subcommand handler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.blocks.common import escape
from bot.echo import echo

if TYPE_CHECKING:
    from slack_bolt import Ack, App, BoltContext, Respond
    from slack_sdk import WebClient

    from bot.services import Services

log = logging.getLogger("bot.handlers.commands")


@dataclass(frozen=True)
class CommandContext:
    """What a subcommand handler gets: the parsed command and the means to answer."""

    ack: Ack
    respond: Respond
    context: BoltContext
    command: dict[str, Any]
    client: WebClient
    services: Services
    args: str

    @property
    def user_id(self) -> str:
        """The Slack user who typed the command."""
        return self.context.user_id or ""

    @property
    def channel_id(self) -> str:
        """The channel the command was typed in."""
        return self.context.channel_id or ""

    def reply(self, text: str) -> None:
        """Acknowledge with an ephemeral answer visible only to the person who typed the command."""
        self.ack(response_type="ephemeral", text=text)

    def tell(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Answer only the person who typed the command, after the ack (mrkdwn `text`)."""
        self.respond(text, blocks=blocks)


SubcommandHandler = Callable[[CommandContext], None]


@dataclass(frozen=True)
class Subcommand:
    """A `/qc` subcommand with its help line and example."""

    name: str
    summary: str
    example: str
    handler: SubcommandHandler


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(name: str, summary: str, example: str) -> Callable[[SubcommandHandler], SubcommandHandler]:
    """Decorator that registers a `/qc <name>` handler with its help text."""

    def decorate(handler: SubcommandHandler) -> SubcommandHandler:
        SUBCOMMANDS[name] = Subcommand(name, summary, example, handler)
        return handler

    return decorate


def help_text() -> str:
    """Every command with an example, in registration order."""
    lines = ["*QuantConnect deploy bot* — commands:"]
    for cmd in SUBCOMMANDS.values():
        # Help texts are plain words; `<project>` in one must not become a Slack control sequence.
        lines.append(f"• `/qc {cmd.name}` — {escape(cmd.summary)}\n   e.g. `{escape(cmd.example)}`")
    return "\n".join(lines)


@subcommand("help", "show every command with an example", "/qc help")
def _help(ctx: CommandContext) -> None:
    ctx.reply(help_text())


def register(app: App, services: Services) -> None:
    """Register the `/qc` command listener and load every subcommand module."""
    # Importing these modules registers their subcommands through @subcommand.
    import handlers.audit_command
    import handlers.deploy_command
    import handlers.live_commands  # noqa: F401

    @app.command("/qc")
    def qc_command(
        ack: Ack, respond: Respond, context: BoltContext, command: dict[str, Any], client: WebClient
    ) -> None:
        text = str(command.get("text") or "").strip()
        name, _, args = text.partition(" ")
        name = name.lower() or "help"
        ctx = CommandContext(
            ack=ack,
            respond=respond,
            context=context,
            command=command,
            client=client,
            services=services,
            args=args.strip(),
        )
        command = SUBCOMMANDS.get(name)
        if command is None:
            known = ", ".join(f"`{n}`" for n in SUBCOMMANDS)
            ctx.reply(f"I don't know `/qc {echo(name)}`. Try one of {known}, or `/qc help` for examples.")
            return
        log.info("command", extra={"user_id": ctx.user_id, "subcommand": name})
        command.handler(ctx)
