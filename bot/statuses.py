"""Every status set, once: where a deploy request stands, and what QuantConnect's live statuses mean.

Store, services, builders and the fakes all take their sets from here, so "active" or "terminal" can never
mean two things in two places. What each live status means in words is in bot/blocks/live_status.py.
"""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    """Where a deploy request stands in its life."""

    PENDING = "pending"
    APPROVED = "approved"
    COMPILING = "compiling"
    DEPLOYING = "deploying"
    LIVE = "live"
    ENDED = "ended"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


_S = RequestStatus

TERMINAL: frozenset[RequestStatus] = frozenset({_S.ENDED, _S.FAILED, _S.REJECTED, _S.CANCELLED, _S.EXPIRED})
# A request holds its project's lock while open.
OPEN: frozenset[RequestStatus] = frozenset({_S.PENDING, _S.APPROVED, _S.COMPILING, _S.DEPLOYING, _S.LIVE})
# Work a replica owns (and another takes over when the owner's lease expires).
IN_FLIGHT: frozenset[RequestStatus] = frozenset({_S.APPROVED, _S.COMPILING, _S.DEPLOYING})
# Something runs, or is about to run, for the project: approved and not yet ended.
ACTIVE: frozenset[RequestStatus] = IN_FLIGHT | {_S.LIVE}

# QuantConnect's live statuses (live/read, live/list).
RUNNING = "Running"
IN_QUEUE = "InQueue"
# What live/read answers for a project that has never been deployed.
UNDEFINED = "Undefined"
# After these nothing more happens to a deployment: the algorithm no longer runs and its node is free again.
LIVE_TERMINAL: frozenset[str] = frozenset(
    {"DeployError", "RuntimeError", "Stopped", "Liquidated", "Deleted", "Completed", "Invalid"}
)
# The terminal statuses that mean something went wrong rather than a deliberate stop.
LIVE_FAILURE: frozenset[str] = frozenset({"DeployError", "RuntimeError", "Invalid"})
