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
