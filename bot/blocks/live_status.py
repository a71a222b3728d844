"""What each QuantConnect live status means to a trader, in one table: the card, the App Home, `/qc status`
and the thread reply of a status change all say the same."""

from __future__ import annotations

from bot.blocks.common import escape

LIVE_STATUS_TEXT: dict[str, str] = {
    "InQueue": "⏳ InQueue: waiting for the live node",
    "LoggingIn": "🔑 LoggingIn: logging in to the brokerage",
    "Initializing": "⚙️ Initializing: the algorithm is starting",
    "History": "📚 History: loading historical data",
    "Running": "🟢 Running",
    "PendingInput": "✋ PendingInput: the brokerage is waiting for input (e.g. 2FA)",
    "Idle": "💤 Idle",
    "Stopped": "⏹️ Stopped: the algorithm has ended",
    "Liquidated": "⏹️ Liquidated: positions were closed and the algorithm has ended",
    "Completed": "🏁 Completed: the algorithm has ended",
    "Deleted": "🗑️ Deleted: the deployment was deleted on QuantConnect",
    "RuntimeError": "❌ RuntimeError",
    "DeployError": "❌ DeployError",
    "Invalid": "❌ Invalid",
    "Undefined": "❔ Undefined: QuantConnect reports no deployment",
}


def live_status_text(status: str) -> str:
    """The status in words (mrkdwn); a status QuantConnect added since is shown as it came, escaped."""
    return LIVE_STATUS_TEXT.get(status) or escape(status)
