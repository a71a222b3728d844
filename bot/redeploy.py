"""Redeploy: find the request to repeat and turn its choices into the deploy modal's inputs.

Everything here reads the store only (no QuantConnect, no secret store), so the modal can open within the
3 seconds a trigger id lives; the profiles, nodes, Lean versions and the fresh book follow after it opened.
"""

from __future__ import annotations

from typing import Any

from bot.blocks.modal import ModalInputs, ModalMetadata, ProjectOption
from bot.blocks.modal_fields import TRUE
from bot.brokerages import registry
from bot.brokerages.data_providers import resolve_option
from bot.brokerages.errors import UnknownBrokerage
from bot.echo import echo
from bot.errors import BotError
from bot.ids import NODE_AUTO, Block
from bot.numbers import parse_id
from bot.request_ids import is_request_id
from bot.statuses import OPEN
from bot.store import DeployRequest, Store

MAX_NAME_LENGTH = 200
# Requests scanned for a project named in `/qc redeploy <name>`, newest first.
NAME_SCAN = 500


class NothingToRedeploy(BotError):
    """No request of the named project to redeploy, or one that cannot be redeployed now."""


def request_to_redeploy(store: Store, text: str) -> DeployRequest:
    """The request named by a request id, else the last request of the project named by id or name."""
    wanted = text.strip().strip("`'\"").strip()
    if not wanted:
        raise NothingToRedeploy(
            "Name the project: `/qc redeploy <project name or id>`, e.g. `/qc redeploy Momentum`."
        )
    if len(wanted) > MAX_NAME_LENGTH:
        raise NothingToRedeploy(f"That is too long for a project name or id (at most {MAX_NAME_LENGTH}).")
    if is_request_id(wanted):
        request = store.get_request(wanted)
        if request is not None:
            return request
    project_id = parse_id(wanted)
    if project_id is not None:
        found = store.list_requests(project_id=project_id, limit=1)
    else:
        name = wanted.casefold()
        found = [r for r in store.list_requests(limit=NAME_SCAN) if r.project_name.casefold() == name][:1]
    if not found:
        raise NothingToRedeploy(
            f"I have no earlier request for '{echo(wanted)}' to redeploy. Use `/qc deploy` for a first "
            "deployment."
        )
    return found[0]


def check_redeployable(request: DeployRequest) -> None:
    """NothingToRedeploy while the request still runs or waits: the project is locked until it ends."""
    if request.status in OPEN:
        raise NothingToRedeploy(
            f"Request `{request.id}` for {echo(request.project_name)} is still {request.status.value}: stop "
            "it (or let it end) first, then redeploy."
        )


def redeploy_values(request: DeployRequest) -> dict[str, Any]:
    """The request's choices as the modal's entered values (block id -> value); the reason is asked anew."""
    values: dict[str, Any] = {
        Block.BROKERAGE.value: request.model_key,
        Block.PROFILE.value: request.profile or None,
        Block.NODE.value: request.node_id or NODE_AUTO,
        Block.VERSION.value: request.version_id,
        Block.AUTOMATIC_REDEPLOY.value: [TRUE] if request.automatic_redeploy else [],
        Block.DATA_PROVIDERS.value: [
            option.option_value
            for entry in request.data_providers
            if (option := resolve_option(entry, request.model_key)) is not None
        ],
    }
    for name, value in request.settings.items():
        values[name] = value
    return values


def redeploy_inputs(request: DeployRequest, *, channel_id: str, deploy_channel_id: str | None) -> ModalInputs:
    """The deploy modal as it opens for a redeploy, before the slow look-ups."""
    try:
        model_key = registry.get(request.model_key).key
    except UnknownBrokerage as exc:
        raise NothingToRedeploy(
            f"Request `{request.id}` used a brokerage the bot no longer has: {exc}"
        ) from None
    return ModalInputs(
        model_key=model_key,
        profiles=None,
        project=ProjectOption.for_project(request.project_id, request.project_name),
        values=redeploy_values(request),
        metadata=ModalMetadata(channel_id=channel_id, redeploy_of=request.id),
        deploy_channel_id=deploy_channel_id,
    )
