"""manifest.yml validates against Slack's manifest schema and asks only for the scopes the bot uses."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7
from slack_sdk import WebClient

from tests.fakes.fake_slack import FakeSlack
from tests.support.paths import DATA_DIR, REPO_ROOT

SCHEMA_DIR = DATA_DIR / "slack" / "manifest-schema"

# Every bot scope the manifest may ask for, with what needs it. A new scope needs a reason here first.
SCOPE_USES: dict[str, tuple[str, ...]] = {
    "commands": ("slash command /qc",),
    "chat:write": ("chat.postMessage", "chat.update", "chat.postEphemeral"),
    "usergroups:read": ("usergroups.users.list",),
    "channels:read": ("conversations.info", "conversations.members"),
    "groups:read": ("conversations.info", "conversations.members"),
    "users:read": ("users.info",),
}


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _no_network(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)


def _validator() -> jsonschema.Draft7Validator:
    """Validator for the root schema, its remote $refs served from the local copies."""
    root = json.loads((SCHEMA_DIR / "manifest.schema.json").read_text())
    registry: Registry[Any] = Registry(retrieve=_no_network)
    for uri in {r for r in _refs(root) if r.startswith("https://")}:
        local = SCHEMA_DIR / "schemas" / Path(uri).name
        contents = json.loads(local.read_text())
        registry = registry.with_resource(uri, Resource.from_contents(contents, default_specification=DRAFT7))
    return jsonschema.Draft7Validator(root, registry=registry)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    """The parsed manifest.yml."""
    return yaml.safe_load((REPO_ROOT / "manifest.yml").read_text())


def test_manifest_matches_slack_schema(manifest: dict[str, Any]) -> None:
    errors = sorted(_validator().iter_errors(manifest), key=str)
    assert not errors, "\n".join(e.message for e in errors)


@pytest.mark.parametrize(
    ("section", "key", "bad"),
    [
        ("display_information", "name", "x" * 36),
        ("interactivity", "surprise", True),
        ("bot_user", "display_name", ""),
    ],
)
def test_schema_check_rejects_a_broken_manifest(
    manifest: dict[str, Any], section: str, key: str, bad: object
) -> None:
    broken = copy.deepcopy(manifest)
    parents = {
        "display_information": broken["display_information"],
        "interactivity": broken["settings"]["interactivity"],
        "bot_user": broken["features"]["bot_user"],
    }
    parents[section][key] = bad
    assert not _validator().is_valid(broken)


def test_schema_refs_resolve_only_locally() -> None:
    root = json.loads((SCHEMA_DIR / "manifest.schema.json").read_text())
    remote = {r for r in _refs(root) if r.startswith("https://")}
    assert remote, "root schema should reference the versioned schemas"
    assert all((SCHEMA_DIR / "schemas" / Path(uri).name).exists() for uri in remote)


def test_slash_command_and_urls(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/qc"
    assert command["usage_hint"] == "deploy | status | stop | liquidate | audit | help"
    assert command["should_escape"] is False
    settings = manifest["settings"]
    urls = [
        command["url"],
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],
    ]
    assert all(url.startswith("https://") and url.endswith("/slack/events") for url in urls)
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]


def test_app_home_and_bot_user(manifest: dict[str, Any]) -> None:
    features = manifest["features"]
    assert manifest["display_information"]["name"] == "QuantConnect Deploy"
    assert features["bot_user"] == {"display_name": "qc-deploy", "always_online": True}
    assert features["app_home"]["home_tab_enabled"] is True
    # The notifier falls back to a direct message; people must be able to read it, not write to the bot.
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["messages_tab_read_only_enabled"] is True


def test_scopes_are_exactly_the_justified_ones(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    bot = scopes["bot"]
    assert len(bot) == len(set(bot))
    unexplained = set(bot) - set(SCOPE_USES)
    assert not unexplained, f"scopes without a reason in SCOPE_USES: {unexplained}"
    assert set(bot) == set(SCOPE_USES), "a justified scope is missing from the manifest"
    assert "chat:write.public" not in bot
    assert "user" not in scopes, "the bot never acts as a user"


@pytest.mark.parametrize("method", sorted({m for uses in SCOPE_USES.values() for m in uses if "." in m}))
def test_scoped_methods_are_real_and_faked(method: str) -> None:
    assert hasattr(WebClient, method.replace(".", "_")), f"{method} is not a Slack Web API method"
    assert method in FakeSlack()._methods, f"the fake Slack does not answer {method}"
