"""Preview shows exactly the `live/create` body the deployer sends, credentials masked, for every model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.brokerages import MASK, data_providers_for, registry
from bot.live_create import COMPILE_PLACEHOLDER, NODE_PLACEHOLDER, preview
from bot.statuses import RequestStatus
from tests.support.world import World, make_world

# Every credential field name of every model: what the mask replaces, wherever it stands in the body.
CREDENTIAL_NAMES = frozenset(
    info.name for model in registry.all_models() for info in model.credential_fields()
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(tmp_path_factory.mktemp("preview"))


def masked(body: dict[str, Any]) -> dict[str, Any]:
    """The sent body as Preview must show it: every credential value replaced by the mask."""

    def mask(block: dict[str, Any]) -> dict[str, Any]:
        return {key: MASK if key in CREDENTIAL_NAMES else value for key, value in block.items()}

    providers = {key: mask(entry) for key, entry in body["dataProviders"].items()}
    return {**body, "brokerage": mask(body["brokerage"]), "dataProviders": providers}


def data_providers(key: str) -> tuple[str, ...]:
    """The brokerage's own data feed first, where it offers one (Tradier's is refused on paper), then QC."""
    ids = tuple(option.provider_id for option in data_providers_for(key)[::-1])
    return ids[1:] if key == "TradierSettings" else ids


@pytest.mark.parametrize("key", [model.key for model in registry.all_models()])
def test_preview_is_the_sent_body_masked(world: World, key: str) -> None:
    request = world.request(key, project=f"Preview {key}", data_providers=data_providers(key))
    shown = preview(request, world.profiles)
    assert shown.problems == [] and shown.body is not None

    deployed = world.deployer().deploy(request.id)
    assert deployed is not None and deployed.status is RequestStatus.LIVE, deployed
    [sent] = [c.body for c in world.qc.calls_to("live/create") if c.body["projectId"] == request.project_id]
    assert sent["brokerage"] != masked(sent)["brokerage"] or not registry.get(key).credential_fields()
    # Only what exists at deploy time differs: the compile id and (for "first free node") the node.
    expected = {**masked(sent), "compileId": COMPILE_PLACEHOLDER, "nodeId": NODE_PLACEHOLDER}
    assert shown.body == expected
