"""Dependencies point one way: handlers -> bot services -> store / quantconnect / secrets / brokerages.

Read from the source (every import, including those inside functions), so a back-edge fails here the day it is
written rather than the day someone trips over a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The lower layers and what each may import from the rest of the project (besides itself).
# The mask is everyone's: a secret is registered with it where it enters (a QuantConnect token as it is read).
MASK = {"bot.secrets.masking", "bot.secrets.redaction"}
LEAF_ALLOWED: dict[str, set[str]] = {
    "bot.store": {"bot.errors", "bot.statuses", *MASK},
    "bot.quantconnect": {"bot.errors", "bot.statuses", *MASK},
    "bot.brokerages": {"bot.errors", "bot.lean_versions", "bot.numbers"},
    "bot.secrets": {"bot.errors", "bot.brokerages", "bot.cli_args", "bot.env_settings"},
}
# Block builders render: they may read models and ids, never reach a service, the store's engine or Slack.
BLOCKS_FORBIDDEN = ("slack_sdk", "slack_bolt", "httpx", "sqlalchemy", "handlers", "bot.store.facade")


def imports_in(source: str) -> set[str]:
    """The absolute module names a piece of source imports, wherever the import statement stands."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def project_imports(package: str) -> dict[str, set[str]]:
    """Each module of the package (dotted name) and the absolute module names it imports."""
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts): imports_in(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py"))
    }


def within(name: str, package: str) -> bool:
    """Whether a dotted module name is the package or inside it."""
    return name == package or name.startswith(package + ".")


def test_nothing_in_bot_imports_handlers_except_the_app_that_registers_them() -> None:
    offenders = {
        module: sorted(name for name in names if within(name, "handlers"))
        for module, names in project_imports("bot").items()
        if module != "bot.app" and any(within(name, "handlers") for name in names)
    }
    assert offenders == {}


def test_handlers_never_import_the_app() -> None:
    offenders = [module for module, names in project_imports("handlers").items() if "bot.app" in names]
    assert offenders == []


@pytest.mark.parametrize("package", sorted(LEAF_ALLOWED))
def test_lower_layers_import_only_what_lies_below_them(package: str) -> None:
    allowed = LEAF_ALLOWED[package]
    offenders = {
        module: sorted(bad)
        for module, names in project_imports(package).items()
        if (
            bad := {
                name
                for name in names
                if (within(name, "bot") or within(name, "handlers") or within(name, "slack_bolt"))
                and not within(name, package)
                and not any(within(name, ok) for ok in allowed)
            }
        )
    }
    assert offenders == {}


def test_block_builders_only_render() -> None:
    offenders = {
        module: sorted(bad)
        for module, names in project_imports("bot.blocks").items()
        if (bad := {name for name in names if any(within(name, no) for no in BLOCKS_FORBIDDEN)})
    }
    assert offenders == {}


def test_the_reader_finds_imports_written_inside_functions() -> None:
    source = "def late():\n    from handlers.home import register\n    import bot.app\n"
    assert imports_in(source) == {"handlers.home", "bot.app"}
