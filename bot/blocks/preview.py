"""The Preview modal: the exact `live/create` body approval will send, credentials masked."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.blocks.card import money_label
from bot.blocks.common import (
    MODAL_BLOCK_LIMIT,
    SECTION_TEXT_LIMIT,
    Block,
    chunk_lines,
    context,
    escape,
    header,
    plain,
    section,
)
from bot.ids import Callback
from bot.store.models import DeployRequest

_FENCE = "```"
# Fences and their newlines take 8 characters of each section.
_CODE_CHUNK = SECTION_TEXT_LIMIT - 8


def code_sections(text: str, *, max_blocks: int) -> list[Block]:
    """`text` as code-formatted sections within Slack's limits; the last one says what was cut."""
    chunks = chunk_lines(escape(text).splitlines(), _CODE_CHUNK)
    blocks = [section(f"{_FENCE}\n{chunk}\n{_FENCE}") for chunk in chunks[:max_blocks]]
    if len(chunks) > max_blocks:
        blocks[-1] = section(f"_… {len(chunks) - max_blocks + 1} more parts not shown (too long for Slack)._")
    return blocks


def preview_modal(
    request: DeployRequest,
    *,
    model_name: str,
    body: dict[str, Any] | None,
    problems: Sequence[str] = (),
) -> dict[str, Any]:
    """A modal showing the masked `live/create` body of a request, or why it cannot be built."""
    node = (
        f"live node `{escape(request.node_id)}`" if request.node_id else "the first free live node at deploy"
    )
    blocks: list[Block] = [
        header(f"{money_label(request.is_paper)} — {model_name}"),
        section(
            f"This is the `live/create` body that approving request `{escape(request.id)}` sends for "
            f"*{escape(request.project_name)}*. Credentials come from profile `{escape(request.profile)}` "
            f"at deploy and are masked here. The compile id is assigned at deploy; the node is {node}."
        ),
    ]
    if body is not None:
        text = json.dumps(body, indent=2, ensure_ascii=False)
        blocks.extend(code_sections(text, max_blocks=MODAL_BLOCK_LIMIT - len(blocks) - 1))
    else:
        bullets = "\n".join(f"• {escape(p)}" for p in problems) or "• (no details)"
        blocks.append(
            section("*This request cannot be turned into a `live/create` body right now:*\n" + bullets)
        )
    blocks.append(context("Nothing is sent until the request is approved."))
    return {
        "type": "modal",
        "callback_id": Callback.PREVIEW.value,
        "title": plain("Deploy preview"),
        "close": plain("Close"),
        "blocks": blocks,
    }
