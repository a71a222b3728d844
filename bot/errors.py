"""Root of the project's error tree: every error raised on purpose carries a message a trader can act on."""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose; `str(err)` is the plain-language `user_message`."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message: str = user_message

    def __str__(self) -> str:
        return self.user_message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.user_message!r})"
