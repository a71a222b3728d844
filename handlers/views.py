"""The deploy modal's listeners: brokerage and project changes, project type-ahead, and the submission."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from slack_sdk.errors import SlackApiError

from bot.blocks.modal import (
    PROFILE_LOADING_BLOCK,
    ModalInputs,
    ModalMetadata,
    ProjectOption,
    deploy_modal,
    node_label,
    offered_values,
)
from bot.brokerages import registry
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.errors import UnknownBrokerage
from bot.errors import BotError
from bot.ids import Action, Block, Callback
from bot.lean_versions import LeanVersionChoices
from bot.modal_state import (
    FormDraft,
    ModalErrors,
    errors_for_view,
    parse_submission,
    read_state,
    selected_project,
)
from bot.projects import ProjectNotFound
from bot.quantconnect.errors import QuantConnectError
from bot.quantconnect.models import Node, Project
from bot.requests import RequestRejected
from bot.secrets.errors import SecretError

if TYPE_CHECKING:
    from slack_bolt import Ack, App
    from slack_sdk import WebClient

    from bot.services import Services

log = logging.getLogger("bot.handlers.views")

T = TypeVar("T")

# Slack allows 3 s for a view submission or an options request; leave room for the answer itself.
SUBMIT_BUDGET_SECONDS = 2.0
OPTIONS_BUDGET_SECONDS = 2.0


class DeadlineExceeded(Exception):
    """A look-up did not finish within the time Slack allows for an answer."""


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


def run_with_deadline(work: Callable[[], T], seconds: float, *, name: str = "modal-lookup") -> T:
    """Run `work` in a daemon thread and wait at most `seconds`; a late call finishes in the background.

    Its result still warms the caches (projects, nodes), so a second submission is fast.
    """
    outcome = _Outcome()

    def target() -> None:
        try:
            outcome.value = work()
        except BaseException as exc:  # handed to the waiting thread, which re-raises it
            outcome.error = exc
        finally:
            outcome.done.set()

    threading.Thread(target=target, name=name, daemon=True).start()
    if not outcome.done.wait(seconds):
        raise DeadlineExceeded(name)
    if outcome.error is not None:
        raise outcome.error
    return outcome.value  # type: ignore[no-any-return]


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


def nodes_for(
    services: Services, project: ProjectOption | None
) -> tuple[tuple[Node, ...] | None, str | None]:
    """The chosen project's live nodes, or an explanation when QuantConnect cannot list them."""
    if project is None:
        return None, None
    try:
        if project.project_id is None:
            found = services.projects.find(project.query)
            project_id = found.project_id
        else:
            project_id = project.project_id
        return services.projects.nodes(project_id), None
    except BotError as exc:
        return None, f"Live nodes not listed: {exc.user_message}"


def versions_for(services: Services, project: ProjectOption | None) -> LeanVersionChoices:
    """The Lean versions and the chosen project's own version, each with what QuantConnect could not tell."""
    versions: tuple[Any, ...] = ()
    error = None
    try:
        versions = services.projects.lean_versions()
    except BotError as exc:
        error = exc.user_message
    found: Project | None = None
    if project is not None:
        try:
            if project.project_id is None:
                found = services.projects.find(project.query)
            else:
                found = services.projects.get(project.project_id)
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
        if block.get("block_id") == PROFILE_LOADING_BLOCK:
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


def _project_problem(exc: DeadlineExceeded | BotError) -> str:
    if isinstance(exc, BotError):
        return exc.user_message
    return (
        "QuantConnect did not answer in time to look up the project. "
        "Submit again in a moment; if it keeps happening QuantConnect may be down."
    )


def _check_project(services: Services, draft: FormDraft) -> tuple[Project | None, dict[str, str]]:
    """Find the project and, when a node was chosen, check that node is one of its free live nodes."""
    catalog = services.projects
    errors: dict[str, str] = {}
    if draft.project.project_id is not None:
        project = catalog.get(draft.project.project_id)
        if project is None:
            return None, {
                Block.PROJECT: f"Project {draft.project.project_id} no longer exists on QuantConnect."
            }
    else:
        try:
            project = catalog.find(draft.project.query)
        except ProjectNotFound as exc:
            return None, {Block.PROJECT: exc.user_message}
    if draft.node_id is not None:
        try:
            nodes = catalog.nodes(project.project_id, max_age_seconds=0)
        except QuantConnectError as exc:
            return project, {Block.NODE: f"Could not check the node: {exc.user_message}"}
        node = next((n for n in nodes if n.id == draft.node_id), None)
        if node is None:
            errors[Block.NODE] = (
                f"Node {draft.node_id} is not a live node of project {project.name}. "
                "Choose another node or Auto."
            )
        elif node.busy:
            errors[Block.NODE] = f"{node_label(node)}. Choose a free node or Auto."
    return project, errors


def _check_profile(services: Services, draft: FormDraft) -> dict[str, str]:
    """The profile exists, is for this brokerage and holds every required credential (names only)."""
    model = draft.model
    if not model.credential_fields():
        return {}
    try:
        missing = services.profiles.missing_fields(draft.profile, model)
    except SecretError as exc:
        return {Block.PROFILE: exc.user_message}
    if not missing:
        return {}
    labels = ", ".join(f"{model.field(name).label} ({name})" for name in missing)
    return {
        Block.PROFILE: (
            f"Profile '{draft.profile}' is incomplete for {model.display_name}: missing {labels}. "
            "An operator has to add them to the secret store; choose another profile meanwhile."
        )
    }


def check_draft(services: Services, draft: FormDraft) -> tuple[Project | None, dict[str, str]]:
    """Project, node and profile checks run side by side within the submission budget."""
    profile_result: dict[str, Any] = {}

    def profile_check() -> None:
        profile_result["errors"] = _check_profile(services, draft)

    profile_thread = threading.Thread(target=profile_check, name="modal-profile-check", daemon=True)
    profile_thread.start()
    errors: dict[str, str] = {}
    project: Project | None = None
    try:
        project, project_errors = run_with_deadline(
            lambda: _check_project(services, draft), SUBMIT_BUDGET_SECONDS, name="modal-project-check"
        )
        errors.update(project_errors)
    except (DeadlineExceeded, BotError) as exc:
        errors[Block.PROJECT] = _project_problem(exc)
    # Both checks started together, so whatever remains of the budget is short.
    profile_thread.join(timeout=0.2)
    if "errors" in profile_result:
        errors.update(profile_result["errors"])
    elif profile_thread.is_alive():
        errors[Block.PROFILE] = "The secret store did not answer in time to check the profile. Submit again."
    return project, errors


def submit_deploy(ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services) -> None:
    """Validate the modal; errors go back next to their fields, a valid form becomes a pending request."""
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
    project, errors = check_draft(services, draft)
    if errors or project is None:
        log.info("deploy modal refused: fields %s", sorted(errors))
        ack(
            response_action="errors",
            errors=errors_for_view(errors or {Block.PROJECT: "Choose a project."}, view),
        )
        return
    form = draft.to_form(project.project_id, project.name)
    try:
        request = services.requests.create(form, requester_id=user_id, dedupe_key=str(view.get("id") or ""))
    except RequestRejected as exc:
        target = exc.field or Block.REASON.value
        ack(response_action="errors", errors=errors_for_view({target: exc.user_message}, view))
        return
    except BotError as exc:
        ack(response_action="errors", errors=errors_for_view({Block.REASON: exc.user_message}, view))
        return
    ack()
    if request.message_ts:
        # The same view submitted again (dedupe_key): its card is already posted.
        return
    services.requests.announce_later(request, reply_channel=_metadata(view).channel_id or None)


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
) -> None:
    """Re-render the open deploy modal after a brokerage or project change, keeping what was entered."""
    nodes, nodes_error = nodes_for(services, project)
    inputs = ModalInputs(
        model_key=model_key,
        profiles=profiles,
        profiles_error=profiles_error,
        project=project,
        nodes=nodes,
        nodes_error=nodes_error,
        versions=versions_for(services, project),
        values=values,
        metadata=_metadata(view),
        deploy_channel_id=services.settings.deploy_channel_id,
    )
    update_view(client, str(view.get("id")), view.get("hash"), deploy_modal(inputs))


def register(app: App, services: Services) -> None:
    """Register the deploy modal's listeners."""

    @app.view(Callback.DEPLOY.value)
    def on_deploy_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        submit_deploy(ack, body, view, services)

    @app.action(Action.BROKERAGE_SELECT.value)
    def on_brokerage_change(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
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
        _rebuild(client, services, view, model.key, project, profiles, profiles_error, values)

    @app.action(Action.PROJECT_SELECT.value)
    def on_project_change(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
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
        _rebuild(client, services, view, model.key, project, profiles, profiles_error, values)

    @app.options(Action.PROJECT_SELECT.value)
    def project_options(ack: Ack, body: dict[str, Any]) -> None:
        text = str(body.get("value") or "")
        try:
            projects = run_with_deadline(
                lambda: services.projects.search(text, limit=100),
                OPTIONS_BUDGET_SECONDS,
                name="project-search",
            )
        except (DeadlineExceeded, BotError) as exc:
            # Slack shows "no results"; the next keystroke is answered from the cache once it has loaded.
            log.warning("project type-ahead unanswered: %s", type(exc).__name__)
            ack(options=[])
            return
        ack(options=[ProjectOption.for_project(p.project_id, p.name).to_option() for p in projects])
