"""The words of alerts that must reach a person: who is mentioned, and what happened. Pure functions only."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.blocks.common import escape, mention, truncate

_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
PROBLEM_LIMIT = 500


def group_mention(group_id: str) -> str:
    """`<!subteam^S123>` for a Slack user group id; anything else as italic text."""
    return f"<!subteam^{group_id}>" if _GROUP_ID.match(group_id) else f"_{escape(group_id)}_"


def mentions(users: Iterable[str], groups: Iterable[str] = ()) -> str:
    """Everyone to ping, once each, users before groups."""
    people = [mention(user) for user in dict.fromkeys(users)]
    people += [group_mention(group) for group in dict.fromkeys(groups)]
    return " ".join(people)


def status_alert_text(who: str, project: str, status: str, problem: str | None, *, is_paper: bool) -> str:
    """The alert for a live status that needs a person: a failure, a stop nobody asked for, input awaited."""
    money = "paper" if is_paper else "*REAL MONEY*"
    name = f"*{escape(project)}* ({money})"
    said = (
        f" QuantConnect says: {escape(truncate(' '.join(problem.split()), PROBLEM_LIMIT))}" if problem else ""
    )
    if status == "PendingInput":
        return (
            f":bell: {who} {name} is waiting for input at the brokerage (for example Interactive Brokers' "
            "two-factor approval at the weekly restart). Answer it there, or the algorithm cannot trade."
            f"{said}"
        )
    if status in ("Stopped", "Liquidated"):
        verb = "stopped" if status == "Stopped" else "liquidated and stopped"
        return (
            f":warning: {who} {name} was {verb} outside this bot (on QuantConnect, by the brokerage or by "
            f"Lean), not with Stop or Liquidate here. Check the algorithm and the account.{said}"
        )
    return f":rotating_light: {who} {name} stopped with *{escape(status)}*.{said} Details are in this thread."


def reminder_text(who: str, project: str, request_id: str, expires: str) -> str:
    """The reminder to approvers of a real-money request halfway through its time to live."""
    return (
        f":hourglass_flowing_sand: {who} the *REAL MONEY* request `{escape(request_id)}` for "
        f"*{escape(project)}* still waits for approval; it expires {expires}."
    )
