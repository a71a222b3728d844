"""Errors the store raises on purpose; each is a BotError whose message a trader can act on."""

from __future__ import annotations

from bot.errors import BotError


class StoreError(BotError):
    """Base of the store's errors."""


class ProjectLocked(StoreError):
    """The project already has an open request or an active deployment."""

    def __init__(self, holder_request_id: str, holder_user_id: str, holder_status: str) -> None:
        self.holder_request_id = holder_request_id
        self.holder_user_id = holder_user_id
        self.holder_status = holder_status
        super().__init__(
            f"This project already has request {holder_request_id} ({holder_status}) by <@{holder_user_id}>. "
            "Wait for it to finish, or cancel or stop it first."
        )


class RequestNotFound(StoreError):
    """No request (or no deployment) with that id exists."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        super().__init__(f"Request {request_id} does not exist.")


class SecretRejected(StoreError):
    """A secret value was about to be written to the store; names where, never what."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"Refusing to store a secret value at {path}: credentials never go in the database.")
