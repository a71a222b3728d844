"""The deploy modal's listeners: brokerage and project changes, project type-ahead, and the submission."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.blocks.modal import (
    ModalInputs,
    ModalMetadata,
    ProjectOption,
    deploy_modal,
    offered_values,
)
from bot.blocks.notify_fields import presets_in_view
from bot.book import takes_book
from bot.brokerages import registry
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.errors import UnknownBrokerage
from bot.errors import BotError
from bot.ids import Action, Block, Callback
from bot.lean_versions import LeanVersionChoices
from bot.lookups import Deadline, LookupsBusy
from bot.modal_book import apply_book, submitted_book_source
from bot.modal_state import (
    ModalErrors,
    errors_for_view,
    parse_submission,
    read_state,
    selected_project,
)
from bot.quantconnect.models import LeanVersion, Node, Project
from bot.secrets.errors import SecretError
from bot.secrets.notification_presets import NotificationPresets
from bot.submissions import SUBMIT_BUDGET_SECONDS, DeploySubmissions, Refused, Stored
from handlers.after_ack import run_after_ack

if TYPE_CHECKING:
    from slack_bolt import Ack, App, Respond
    from slack_sdk import WebClient

    from bot.services import Services

log = logging.getLogger("bot.handlers.views")

# Slack allows 3 s for an options request; leave room for the answer itself.
OPTIONS_BUDGET_SECONDS = 2.0
# Type-ahead keystrokes that may wait for a cold project list at once; the others answer from the cache
# (or with nothing) at once, so that a hanging QuantConnect cannot hold the HTTP threads other requests need.
TYPEAHEAD_WAITERS = 2
TYPEAHEAD_TEXT_LIMIT = 100
# After an ack nobody waits on Slack's clock; a modal update still should not hang on QuantConnect forever.
MODAL_LOOKUP_SECONDS = 10.0


# ---- building and updating the modal -------------------------------------------------------------


def profiles_for(
    services: Services, model: type[BrokerageSettings]
) -> tuple[tuple[str, ...] | None, str | None]:
    """Profile names for the brokerage (a secret-store call), or an explanation when they cannot be listed."""
    if not model.credential_fields():
        return (), None
    try:
        return tuple(services.profiles.list_profiles(model.brokerage_id)), None
    except SecretError as exc:
        return None, f"Could not list credential profiles: {exc.user_message}"


def presets_for(services: Services, view: Mapping[str, Any] | None = None) -> tuple[str, ...] | None:
    """Preset names the view offers, else from the secret store; None when they cannot be listed."""
    offered = presets_in_view(view) if view is not None else None
    if offered is not None:
        return offered
    try:
        return tuple(NotificationPresets(services.profiles.store).names())
    except SecretError as exc:
        # The section is optional: without presets it is left out, and the log says why.
        log.warning("notification presets not listed: %s", exc.user_message)
        return None


def nodes_for(
    services: Services, project: ProjectOption | None
) -> tuple[tuple[Node, ...] | None, str | None]:
    """The chosen project's live nodes, or an explanation when QuantConnect cannot list them."""
    if project is None:
        return None, None
    deadline = Deadline.after(MODAL_LOOKUP_SECONDS)
    try:
        if project.project_id is None:
            found = services.projects.find(project.query, timeout=deadline.remaining())
            project_id = found.project_id
        else:
            project_id = project.project_id
        return services.projects.nodes(project_id, timeout=deadline.remaining()), None
    except BotError as exc:
        return None, f"Live nodes not listed: {exc.user_message}"


def versions_for(services: Services, project: ProjectOption | None) -> LeanVersionChoices:
    """The Lean versions and the chosen project's own version, each with what QuantConnect could not tell."""
    deadline = Deadline.after(MODAL_LOOKUP_SECONDS)
    versions: tuple[LeanVersion, ...] = ()
    error = None
    try:
        versions = services.projects.lean_versions(timeout=deadline.remaining())
    except BotError as exc:
        error = exc.user_message
    found: Project | None = None
    if project is not None:
        try:
            if project.project_id is None:
                found = services.projects.find(project.query, timeout=deadline.remaining())
            else:
                found = services.projects.get(project.project_id, timeout=deadline.remaining())
        except BotError:
            found = None  # the node note already says why the project could not be looked up
    return LeanVersionChoices(
        versions=versions,
        project_version=found.lean_version_id if found is not None else None,
        project_chosen=project is not None,
        versions_error=error,
    )


def profiles_in_view(view: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The profile names a view already lists (no secret-store call), or None when it shows none yet."""
    for block in view.get("blocks") or []:
        if block.get("block_id") == Block.PROFILE and block.get("type") == "input":
            return tuple(str(o.get("value")) for o in (block.get("element") or {}).get("options") or [])
        if block.get("block_id") == Block.PROFILE_LOADING:
            return None
    return ()


def update_view(
    client: WebClient, view_id: str, view_hash: str | None, view: dict[str, Any]
) -> dict[str, Any] | None:
    """views.update guarded by the hash: an update built from an outdated view is dropped, not applied."""
    try:
        response = client.views_update(view_id=view_id, hash=view_hash, view=view)
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in ("hash_conflict", "not_found"):
            # The modal changed meanwhile (or was closed): the newer view stands.
            log.info("deploy modal %s not updated: %s", view_id, error)
            return None
        raise
    updated = response.get("view")
    return updated if isinstance(updated, dict) else None


def _metadata(view: Mapping[str, Any]) -> ModalMetadata:
    return ModalMetadata.from_json(view.get("private_metadata"))


def _model_key(values: Mapping[str, Any], fallback: str) -> str:
    key = values.get(Block.BROKERAGE)
    try:
        return registry.get(str(key)).key if key else fallback
    except UnknownBrokerage:
        return fallback


# ---- submission ----------------------------------------------------------------------------------


def submit_deploy(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], submissions: DeploySubmissions
) -> None:
    """Validate the modal; errors go back next to their fields, a valid form becomes a pending request.

    Whatever the checks cannot decide within the budget carries on after the ack and answers by message.
    """
    budget = Deadline.after(SUBMIT_BUDGET_SECONDS)
    user_id = str((body.get("user") or {}).get("id") or "")
    try:
        draft = parse_submission(
            (view.get("state") or {}).get("values") or {},
            offered_versions=offered_values(view, Block.VERSION),
        )
    except ModalErrors as exc:
        log.info("deploy modal refused: fields %s", sorted(exc.errors))
        ack(response_action="errors", errors=errors_for_view(exc.errors, view))
        return
    metadata = _metadata(view)
    reply_channel = metadata.channel_id
    draft = replace(
        draft, book_source=submitted_book_source(metadata, draft), redeploy_of=metadata.redeploy_of
    )
    try:
        submission = submissions.start(
            draft, user_id=user_id, view_id=str(view.get("id") or ""), reply_channel=reply_channel
        )
    except LookupsBusy as exc:
        ack(response_action="errors", errors=errors_for_view({Block.REASON: exc.user_message}, view))
        return
    outcome = submission.wait(budget.remaining() or 0.0) or submission.detach()
    if outcome is None:
        ack()
        log.info("deploy submission carries on after the ack")
        submissions.note_still_checking(submission)
        return
    if isinstance(outcome, Refused):
        log.info("deploy modal refused: fields %s", sorted(outcome.errors))
        ack(response_action="errors", errors=errors_for_view(outcome.errors, view))
    elif isinstance(outcome, Stored):
        ack()
        submissions.accepted(outcome.request, reply_channel, new=outcome.new)
    else:
        raise outcome.error  # not acknowledged yet: the error handler answers in the modal


def project_suggestions(services: Services, text: str, waiters: threading.BoundedSemaphore) -> list[Any]:
    """Options for the project type-ahead: from the cache, or after waiting briefly for the shared load."""
    waits = waiters.acquire(blocking=False)
    try:
        projects = services.projects.search(
            text[:TYPEAHEAD_TEXT_LIMIT], limit=100, timeout=OPTIONS_BUDGET_SECONDS if waits else 0.0
        )
    except BotError as exc:
        # Slack shows "no results"; the next keystroke is answered from the cache once it has loaded.
        log.info("project type-ahead unanswered: %s", type(exc).__name__)
        return []
    finally:
        if waits:
            waiters.release()
    return [ProjectOption.for_project(p.project_id, p.name).to_option() for p in projects]


# ---- registration --------------------------------------------------------------------------------


def _rebuild(
    client: WebClient,
    services: Services,
    view: Mapping[str, Any],
    model_key: str,
    project: ProjectOption | None,
    profiles: tuple[str, ...] | None,
    profiles_error: str | None,
    values: Mapping[str, Any],
    *,
    read_book: bool,
) -> None:
    """Re-render the open deploy modal after a brokerage or project change, keeping what was entered.

    With `read_book`, the holdings and cash are prefilled from the project's running (or last) book.
    """
    nodes, nodes_error = nodes_for(services, project)
    metadata = _metadata(view)
    book_note = None
    if read_book and project is not None and project.project_id is not None:
        book = services.books.read(project.project_id, registry.get(model_key), timeout=MODAL_LOOKUP_SECONDS)
        values, metadata = apply_book(values, metadata, book)
        book_note = book.note if book is not None else None
    inputs = ModalInputs(
        model_key=model_key,
        profiles=profiles,
        profiles_error=profiles_error,
        project=project,
        nodes=nodes,
        nodes_error=nodes_error,
        versions=versions_for(services, project),
        values=values,
        metadata=metadata,
        deploy_channel_id=services.settings.deploy_channel_id,
        presets=presets_for(services, view),
        book_note=book_note,
    )
    update_view(client, str(view.get("id")), view.get("hash"), deploy_modal(inputs))


def brokerage_changed(client: WebClient, services: Services, body: dict[str, Any]) -> None:
    """Rebuild the modal for the newly chosen brokerage (after the ack, on the after-ack pool)."""
    view = body.get("view") or {}
    state = (view.get("state") or {}).get("values") or {}
    values = read_state(state)
    action = (body.get("actions") or [{}])[0]
    chosen = (action.get("selected_option") or {}).get("value") or values.get(Block.BROKERAGE)
    model_key = _model_key({Block.BROKERAGE: chosen}, fallback=str(values.get(Block.BROKERAGE) or ""))
    if not model_key:
        return
    model = registry.get(model_key)
    project = selected_project(state)
    profiles, profiles_error = profiles_for(services, model)
    # A brokerage that takes holdings or cash gets the project's book unless the person entered some.
    read_book = takes_book(model) and not values.get(Block.HOLDINGS) and not values.get(Block.CASH)
    _rebuild(
        client, services, view, model.key, project, profiles, profiles_error, values, read_book=read_book
    )


def project_changed(client: WebClient, services: Services, body: dict[str, Any]) -> None:
    """Rebuild the modal for the newly chosen project (after the ack, on the after-ack pool)."""
    view = body.get("view") or {}
    state = (view.get("state") or {}).get("values") or {}
    values = read_state(state)
    action = (body.get("actions") or [{}])[0]
    selected = action.get("selected_option")
    project = selected_project({Block.PROJECT: {Action.PROJECT_SELECT: {"selected_option": selected}}})
    model = registry.get(_model_key(values, fallback="QuantConnectSettings"))
    profiles = profiles_in_view(view)
    profiles_error = None
    if profiles is None:
        profiles, profiles_error = profiles_for(services, model)
    # The preselected Lean version follows the project: the previous one was the old project's.
    values = {key: value for key, value in values.items() if key != Block.VERSION}
    _rebuild(client, services, view, model.key, project, profiles, profiles_error, values, read_book=True)


def register(app: App, services: Services) -> None:
    """Register the deploy modal's listeners."""
    submissions = DeploySubmissions(services)
    typeahead_waiters = threading.BoundedSemaphore(TYPEAHEAD_WAITERS)

    @app.view(Callback.DEPLOY.value)
    def on_deploy_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit_deploy(ack, body, view, submissions)

    @app.action(Action.BROKERAGE_SELECT.value)
    def on_brokerage_change(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        run_after_ack(services.after_ack, respond, lambda: brokerage_changed(client, services, body))

    @app.action(Action.PROJECT_SELECT.value)
    def on_project_change(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        run_after_ack(services.after_ack, respond, lambda: project_changed(client, services, body))

    @app.options(Action.PROJECT_SELECT.value)
    def project_options(ack: Ack, body: dict[str, Any]) -> None:
        ack(options=project_suggestions(services, str(body.get("value") or ""), typeahead_waiters))
