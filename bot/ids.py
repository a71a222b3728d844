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
    """Fixed input block ids of the deploy modal (setting fields use their QuantConnect name)."""

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
