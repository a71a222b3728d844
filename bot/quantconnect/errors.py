"""Typed errors of the QuantConnect client; every message is plain language and free of secrets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.errors import BotError

if TYPE_CHECKING:
    from bot.quantconnect.models import Node


class QuantConnectError(BotError):
    """Base of every failure talking to QuantConnect."""

    def __init__(self, user_message: str, *, endpoint: str | None = None) -> None:
        super().__init__(user_message)
        self.endpoint = endpoint


class AuthenticationError(QuantConnectError):
    """QuantConnect refused the user id / API token (HTTP 401 or a hash / user id error)."""


class RequestRefused(QuantConnectError):
    """QuantConnect answered `success: false`; `errors` holds its messages verbatim."""

    def __init__(self, user_message: str, *, endpoint: str | None = None, errors: Sequence[str] = ()) -> None:
        super().__init__(user_message, endpoint=endpoint)
        self.errors: list[str] = list(errors)


class Unavailable(QuantConnectError):
    """QuantConnect could not be reached or answered with a server error (5xx) or a rate limit (429).

    `retry_after` is QuantConnect's Retry-After in seconds, when it sent one: do not ask again sooner.
    """

    def __init__(
        self, user_message: str, *, endpoint: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(user_message, endpoint=endpoint)
        self.retry_after = retry_after


class Timeout(Unavailable):
    """QuantConnect did not answer within the client's timeout."""


class NotSent(Unavailable):
    """The request never left this machine (no connection): QuantConnect certainly did nothing."""


class LiveCreateUncertain(Unavailable):
    """live/create may have reached QuantConnect but got no clear answer: ask live/read, never resend."""

    def __init__(
        self, user_message: str, *, project_id: int, reason: str = "", endpoint: str | None = "live/create"
    ) -> None:
        super().__init__(user_message, endpoint=endpoint)
        self.project_id = project_id
        self.reason = reason or user_message


class BuildFailed(QuantConnectError):
    """The project did not compile; `logs` holds the compiler output."""

    def __init__(self, user_message: str, *, project_id: int, compile_id: str, logs: Sequence[str]) -> None:
        super().__init__(user_message, endpoint="compile/read")
        self.project_id = project_id
        self.compile_id = compile_id
        self.logs: list[str] = list(logs)


class CompileTimeout(QuantConnectError):
    """The compile did not finish within the allowed time."""

    def __init__(self, user_message: str, *, project_id: int, compile_id: str, last_state: str) -> None:
        super().__init__(user_message, endpoint="compile/read")
        self.project_id = project_id
        self.compile_id = compile_id
        self.last_state = last_state


class NoFreeNode(QuantConnectError):
    """No live node is free for the project; `nodes` are the live nodes that were considered."""

    def __init__(self, user_message: str, *, project_id: int, nodes: Sequence[Node]) -> None:
        super().__init__(user_message, endpoint="projects/nodes/read")
        self.project_id = project_id
        self.nodes: list[Node] = list(nodes)


class NodeBusy(NoFreeNode):
    """The live node asked for by name or id is running another algorithm."""


class UnknownNode(QuantConnectError):
    """The node asked for is not a live node of the project."""

    def __init__(self, user_message: str, *, project_id: int, node_id: str) -> None:
        super().__init__(user_message, endpoint="projects/nodes/read")
        self.project_id = project_id
        self.node_id = node_id
