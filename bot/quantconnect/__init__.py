"""QuantConnect API v2 client: auth, typed models, typed errors, safe retries, live/create sent once."""

from bot.quantconnect.client import DEFAULT_BASE_URL, QuantConnectClient
from bot.quantconnect.errors import (
    AuthenticationError,
    BuildFailed,
    CompileTimeout,
    LiveCreateUncertain,
    NodeBusy,
    NoFreeNode,
    NotSent,
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
    "LiveAlgorithm",
    "LiveCreateResult",
    "LiveCreateUncertain",
    "NoFreeNode",
    "Node",
    "NodeBusy",
    "NotSent",
    "Project",
    "ProjectNodes",
    "QuantConnectClient",
    "QuantConnectError",
    "RequestRefused",
    "Timeout",
    "Unavailable",
    "UnknownNode",
]
