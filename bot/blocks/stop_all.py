"""The stop-all modal (callback `stop-all`, inputs `mode` and `confirm`) and its report. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.card import bounded_lines
from bot.blocks.common import Block, context, escape, mention, option, plain, section, truncate
from bot.emergency import StopMode, StopOutcome, StopResult, StopTarget
from bot.ids import Action, Callback
from bot.ids import Block as BlockId

MODE_LABELS = {
    StopMode.STOP: "Stop every algorithm (open positions stay open)",
    StopMode.LIQUIDATE: "Liquidate every position, then stop",
}
ICONS = {StopResult.DONE: "✅", StopResult.ALREADY_STOPPED: "⏹️", StopResult.FAILED: "❌"}


def ordered(targets: Sequence[StopTarget]) -> list[StopTarget]:
    """Real money first, then by name."""
    return sorted(targets, key=lambda t: (t.is_paper, t.name.casefold(), t.project_id))


def target_line(target: StopTarget) -> str:
    """One running deployment: money, name, brokerage, equity, deploy id."""
    money = "🧪 paper" if target.is_paper else "*💰 REAL MONEY*"
    parts = [f"{money} — *{escape(target.label)}*", escape(target.brokerage or "unknown brokerage")]
    if target.equity is not None:
        parts.append(f"equity {target.equity:,.2f}")
    if target.deploy_id:
        parts.append(f"deploy `{escape(target.deploy_id)}`")
    return "• " + " · ".join(parts)


def _list_block(targets: Sequence[StopTarget] | None, error: str | None) -> Block:
    if error is not None:
        return section(
            f":warning: QuantConnect could not list the running deployments: {escape(error)} Submitting "
            "still stops whatever QuantConnect reports running then.",
            block_id=BlockId.STOP_ALL_LIST.value,
        )
    if targets is None:
        return section(
            "Loading the running deployments from QuantConnect…", block_id=BlockId.STOP_ALL_LIST.value
        )
    if not targets:
        return section(
            "QuantConnect reports nothing running right now.", block_id=BlockId.STOP_ALL_LIST.value
        )
    lines = [target_line(t) for t in ordered(targets)]
    return section(
        f"*{len(targets)} running deployment(s)*\n" + bounded_lines(lines, noun="deployments"),
        block_id=BlockId.STOP_ALL_LIST.value,
    )


def stop_all_modal(
    targets: Sequence[StopTarget] | None, *, error: str | None = None, private_metadata: str = ""
) -> dict[str, Any]:
    """The modal: what runs (None while loading), stop or liquidate, and the word to type."""
    options = [option(MODE_LABELS[mode], mode.value) for mode in StopMode]
    return {
        "type": "modal",
        "callback_id": Callback.STOP_ALL.value,
        "title": plain("Emergency stop-all"),
        "submit": plain("Stop them all"),
        "close": plain("Cancel"),
        "private_metadata": private_metadata,
        "blocks": [
            section(
                ":rotating_light: *Emergency stop of every deployment QuantConnect reports running*, real "
                "money first. Each one is stopped in parallel; the channel gets one line per deployment."
            ),
            _list_block(targets, error),
            {
                "type": "input",
                "block_id": BlockId.STOP_ALL_MODE.value,
                "label": plain("What to do"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": Action.VALUE.value,
                    "options": options,
                    "initial_option": options[0],
                },
            },
            {
                "type": "input",
                "block_id": BlockId.STOP_ALL_CONFIRM.value,
                "label": plain("Type STOP (or LIQUIDATE) to confirm"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": Action.VALUE.value,
                    "max_length": 20,
                    "placeholder": plain("STOP"),
                },
                "hint": plain("The word must match what you chose above, in capitals."),
            },
            context(
                "Only approvers can run this. Nothing is reported as stopped unless QuantConnect confirms it."
            ),
        ],
    }


def stop_all_report(user_id: str, mode: StopMode, outcomes: Sequence[StopOutcome]) -> tuple[str, list[Block]]:
    """The channel's report: a summary line, then one line per deployment."""
    count = {result: sum(1 for o in outcomes if o.result is result) for result in StopResult}
    verb, done = ("Stop-all", "stopped") if mode is StopMode.STOP else ("Liquidate-all", "liquidated")
    summary = (
        f"⏹️ {verb} by {mention(user_id)}: {count[StopResult.DONE]} {done}, "
        f"{count[StopResult.ALREADY_STOPPED]} already stopped, {count[StopResult.FAILED]} failed."
    )
    lines = []
    for outcome in sorted(outcomes, key=lambda o: (o.target.is_paper, o.target.name.casefold())):
        said = f" — {escape(truncate(' '.join(outcome.error.split()), 300))}" if outcome.error else ""
        lines.append(f"{ICONS[outcome.result]} {escape(outcome.target.label)}: {outcome.result.value}{said}")
    if not outcomes:
        lines.append("QuantConnect reported nothing running: nothing to stop.")
    return summary, [section(summary), section(bounded_lines(lines, noun="deployments"))]


def stop_all_failed_report(user_id: str, mode: StopMode, error: str) -> tuple[str, list[Block]]:
    """The report when QuantConnect could not even list what runs."""
    verb = "Stop-all" if mode is StopMode.STOP else "Liquidate-all"
    text = (
        f":warning: {verb} by {mention(user_id)} could not "
        f"start: QuantConnect did not list the running deployments ({escape(error)}). Nothing was stopped; "
        "try again, or stop them on QuantConnect."
    )
    return text, [section(text)]
