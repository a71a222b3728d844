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
    STOP_ALL = "stop-all"


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
    # The optional notifications section (QuantConnect's own order-event/insight notifications).
    NOTIFY_EVENTS = "notify-events"
    NOTIFY_TARGETS = "notify-targets"
    REJECT_REASON = "reject-reason"
    # Notes of the deploy modal (not inputs): where profiles load or fail, and why nodes are not listed.
    PROFILE_LOADING = "profile-loading"
    # A redeployed request's profile that no longer exists.
    PROFILE_NOTE = "profile-note"
    NODE_NOTE = "node-note"
    # Where the prefilled holdings and cash came from (QuantConnect's portfolio or an earlier request), or why
    # none were prefilled.
    BOOK_NOTE = "book-note"
    # Button rows: the card's Approve/Reject/Cancel/Preview, its Stop/Liquidate, `/qc liquidate`'s answer.
    REQUEST_ACTIONS = "request_actions"
    LIVE_ACTIONS = "live_actions"
    LIQUIDATE_CONFIRM = "liquidate_confirm"
    # The Redeploy button of a finished, stopped or failed request's card.
    REDEPLOY_ACTIONS = "redeploy_actions"
    # The stop-all modal: its inputs (contracts) and the list of running deployments.
    STOP_ALL_MODE = "mode"
    STOP_ALL_CONFIRM = "confirm"
    STOP_ALL_LIST = "stop-all-list"


class Action(StrEnum):
    """Action ids. Card buttons carry the request id as their value."""

    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    PREVIEW = "preview"
    STOP = "stop"
    LIQUIDATE = "liquidate"
    REDEPLOY = "redeploy"
    # Inputs inside modal blocks: one action id per block kind.
    VALUE = "value"
    BROKERAGE_SELECT = "brokerage_select"
    PROJECT_SELECT = "project_select"


NODE_AUTO = "auto"
VERSION_LATEST = "-1"
# The deploy modal asks for data providers in order, one select each: `data-providers` is the first (asked
# first), `data-providers-2`, `data-providers-3`, ... follow. Slack's multi-select does not promise to report
# the order options were picked in, and the order is the precedence QuantConnect applies.
MAX_DATA_PROVIDER_SLOTS = 4


def data_provider_slot(position: int) -> str:
    """The block id of the data provider asked `position`-th (1 is `data-providers`)."""
    return Block.DATA_PROVIDERS.value if position == 1 else f"{Block.DATA_PROVIDERS.value}-{position}"
