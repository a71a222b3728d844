"""`/qc deploy [project name or id]`: open the deploy modal at once, then fill in what needs slow look-ups."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.blocks.common import escape
from bot.blocks.modal import DEFAULT_MODEL_KEY, ModalInputs, ModalMetadata, ProjectOption, deploy_modal
from bot.brokerages import registry
from bot.errors import BotError
from bot.modal_book import apply_book
from bot.projects import ProjectNotFound
from handlers.after_ack import run_after_ack
from handlers.commands import CommandContext, subcommand
from handlers.views import (
    MODAL_LOOKUP_SECONDS,
    nodes_for,
    presets_for,
    profiles_for,
    update_view,
    versions_for,
)

if TYPE_CHECKING:
    from slack_sdk import WebClient

    from bot.services import Services

log = logging.getLogger("bot.handlers.deploy_command")


@subcommand(
    "deploy",
    "open the deploy form (optionally for a project, by name or id); the request then waits for approval",
    "/qc deploy Momentum Strategy",
)
def deploy(ctx: CommandContext) -> None:
    """Acknowledge, open the modal with the trigger_id (it lives 3 s), then list profiles and nodes."""
    ctx.ack()
    services = ctx.services
    project = ProjectOption.for_query(ctx.args) if ctx.args else None
    if project is not None and not project.query:
        project = None  # nothing printable was typed after `deploy`
    inputs = ModalInputs(
        model_key=DEFAULT_MODEL_KEY,
        profiles=None,
        project=project,
        metadata=ModalMetadata(channel_id=ctx.channel_id),
        deploy_channel_id=services.settings.deploy_channel_id,
    )
    # Nothing slow happens before views.open: no QuantConnect call, no secret-store call.
    try:
        response = ctx.client.views_open(
            trigger_id=str(ctx.command.get("trigger_id") or ""), view=deploy_modal(inputs)
        )
    except SlackApiError as exc:
        explain_open_failure(ctx, str(exc.response.get("error") or "unknown_error"))
        return
    opened = response.get("view") or {}
    # The listener is free after views.open; the look-ups and views.update run on the small after-ack pool.
    view_id, view_hash = str(opened.get("id") or ""), opened.get("hash")
    run_after_ack(
        services.after_ack, ctx.tell, lambda: fill_in(ctx.client, services, inputs, view_id, view_hash)
    )


def fill_in(
    client: WebClient, services: Services, inputs: ModalInputs, view_id: str, view_hash: str | None
) -> None:
    """After views.open: list the brokerage's profiles, then resolve a project named in the command.

    The Lean versions come with the project (its own version is the default), so a modal opened without one
    is not updated for them: choosing a project rebuilds it anyway.
    """
    model = registry.get(inputs.model_key)
    profiles, profiles_error = profiles_for(services, model)
    presets = presets_for(services)
    current = replace(inputs, profiles=profiles, profiles_error=profiles_error, presets=presets)
    if model.credential_fields() or presets:
        updated = update_view(client, view_id, view_hash, deploy_modal(current))
        if updated is None:
            return  # the person already changed the modal; their version stands
        view_hash = updated.get("hash")
    if inputs.project is None:
        return
    project = inputs.project
    try:
        found = services.projects.find(project.query, timeout=MODAL_LOOKUP_SECONDS)
        project = ProjectOption.for_project(found.project_id, found.name)
    except BotError as exc:
        # Left as typed: the note says why, and submission reports it next to the project field.
        nodes_error: str | None = exc.user_message
        if inputs.metadata.redeploy_of and isinstance(exc, ProjectNotFound):
            nodes_error = (
                f"Project {project.label} of request {inputs.metadata.redeploy_of} no longer exists on "
                "QuantConnect: choose another project, or start over with /qc deploy."
            )
        nodes = None
    else:
        nodes, nodes_error = nodes_for(services, project)
    values, metadata, book_note = current.values, current.metadata, None
    if project.project_id is not None:
        book = services.books.read(project.project_id, model, timeout=MODAL_LOOKUP_SECONDS)
        values, metadata = apply_book(values, metadata, book)
        book_note = book.note if book is not None else None
    resolved = replace(
        current,
        project=project,
        nodes=nodes,
        nodes_error=nodes_error,
        versions=versions_for(services, project),
        values=values,
        metadata=metadata,
        book_note=book_note,
    )
    update_view(client, view_id, view_hash, deploy_modal(resolved))


def explain_open_failure(ctx: CommandContext, error: str) -> None:
    """Tell the person privately why no modal appeared (a direct message when nothing else reaches them)."""
    if error == "expired_trigger_id":
        text = (
            "I could not open the deploy form in time: Slack only lets a bot open it within 3 seconds of "
            "the command, and that window passed. Please run `/qc deploy` again."
        )
    else:
        text = (
            f"I could not open the deploy form (Slack answered `{escape(error)}`). "
            "Please run `/qc deploy` again."
        )
    log.warning("views.open failed for /qc deploy: %s", error)
    ctx.tell(text)
