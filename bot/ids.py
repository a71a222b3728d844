"""Every callback_id, block_id and action_id, shared by builders, handlers and tests.

These are contracts (see DESIGN.md): tools outside this repo rely on them. Brokerage setting fields use their
QuantConnect field name (``ib-weekly-restart-utc-time``) as block_id, with action_id ``value``.
"""

from enum import StrEnum


class Callback(StrEnum):
    """View callback ids."""

    DEPLOY = "deploy"
    REJECT_REASON = "reject_reason"
    PREVIEW = "preview"


class Block(StrEnum):
    """Fixed block ids: the deploy modal's inputs (setting fields use their QuantConnect name) and notes,
    the reject modal's reason, and the button rows of cards and answers."""

    BROKERAGE = "brokerage"
    PROFILE = "profile"
    PROJECT = "project"
    NODE = "node"
    VERSION = "version"
    DATA_PROVIDERS = "data-providers"
    HOLDINGS = "holdings"
    CASH = "cash"
    AUTOMATIC_REDEPLOY = "automatic-redeploy"
    REASON = "reason"
    REJECT_REASON = "reject-reason"
    # Notes of the deploy modal (not inputs): where profiles load or fail, and why nodes are not listed.
    PROFILE_LOADING = "profile-loading"
    NODE_NOTE = "node-note"
    # Button rows: the card's Approve/Reject/Cancel/Preview, its Stop/Liquidate, `/qc liquidate`'s answer.
    REQUEST_ACTIONS = "request_actions"
    LIVE_ACTIONS = "live_actions"
    LIQUIDATE_CONFIRM = "liquidate_confirm"


class Action(StrEnum):
    """Action ids. Card buttons carry the request id as their value."""

    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    PREVIEW = "preview"
    STOP = "stop"
    LIQUIDATE = "liquidate"
    # Inputs inside modal blocks: one action id per block kind.
    VALUE = "value"
    BROKERAGE_SELECT = "brokerage_select"
    PROJECT_SELECT = "project_select"


NODE_AUTO = "auto"
VERSION_LATEST = "-1"
