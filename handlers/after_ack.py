"""Post-ack work on one of the bot's small pools; what it answers, or its error, reaches the person.

A listener that keeps its Bolt thread after `ack()` holds one of the threads the next requests need to be
acknowledged, and competes with them for the interpreter lock: a burst of Approve clicks filled all of
Bolt's listener threads with votes and deployer hand-offs, and later clicks waited for a thread before
they could be acked (bench/ack_latency.py). Work handed to a pool runs a couple at a time, in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor

from bot.blocks.common import escape
from bot.errors import BotError, user_facing_message

# How the answer reaches the person: Bolt's respond(), a command's tell(); None inside a modal.
Tell = Callable[[str], object]

log = logging.getLogger("bot.handlers.after_ack")


def run_after_ack(pool: Executor, tell: Tell | None, work: Callable[[], str | None]) -> None:
    """Queue `work` on `pool`; its returned text (if any) goes to the person who acted."""
    pool.submit(reported, tell, work)


def reported(tell: Tell | None, work: Callable[[], str | None]) -> None:
    """Run `work`; its answer, or its error worded as the app's error handler words it, goes to the person
    (an action inside a modal has nowhere to answer: the error is logged, as Bolt logs a listener's)."""
    try:
        message = work()
    except Exception as exc:  # off the listener, Bolt's error handler no longer sees it
        text = user_facing_message(exc)
        if isinstance(exc, BotError):
            log.warning("refused: %s", text)
        else:
            log.exception("after-ack work failed")
        message = escape(text)
    if message and tell is not None:
        tell(message)
