"""Root of the project's error tree: every error raised on purpose carries a message a trader can act on."""

from __future__ import annotations

import logging
import uuid

log = logging.getLogger("bot.errors")


class BotError(Exception):
    """Base of every error the bot raises on purpose; `str(err)` is the plain-language `user_message`."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message: str = user_message

    def __str__(self) -> str:
        return self.user_message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.user_message!r})"


def user_facing_message(error: Exception) -> str:
    """What a person is told about an error: our own message, or a reference to the logs for anything else."""
    if isinstance(error, BotError):
        return error.user_message
    reference = uuid.uuid4().hex[:8]
    log.error("unexpected error (reference %s)", reference, exc_info=error)
    return (
        f"Something went wrong on the bot's side (reference `{reference}`). "
        "The operators can find it in the logs."
    )
