"""QuantConnect API v2 client: auth, typed models, typed errors, safe retries and live/create recovery."""

from bot.quantconnect.client import DEFAULT_BASE_URL, QuantConnectClient
from bot.quantconnect.errors import (
    AuthenticationError,
    BuildFailed,
    CompileTimeout,
    LiveCreateUncertain,
    NodeBusy,
    NoFreeNode,
    QuantConnectError,
    RequestRefused,
    Timeout,
    Unavailable,
    UnknownNode,
)
from bot.quantconnect.models import (
    FAILURE_STATUSES,
    TERMINAL_STATUSES,
    UNDEFINED_STATUS,
    Compile,
    LeanVersion,
    LiveAlgorithm,
    LiveCreateResult,
    Node,
    Project,
    ProjectNodes,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "FAILURE_STATUSES",
    "TERMINAL_STATUSES",
    "UNDEFINED_STATUS",
    "AuthenticationError",
    "BuildFailed",
    "Compile",
    "CompileTimeout",
    "LeanVersion",
    "LiveAlgorithm",
    "LiveCreateResult",
    "LiveCreateUncertain",
    "NoFreeNode",
    "Node",
    "NodeBusy",
    "Project",
    "ProjectNodes",
    "QuantConnectClient",
    "QuantConnectError",
    "RequestRefused",
    "Timeout",
    "Unavailable",
    "UnknownNode",
]
