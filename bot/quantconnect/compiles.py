"""Waiting for a compile job to finish, polling from fast to slow."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.quantconnect.errors import BuildFailed, CompileTimeout
from bot.quantconnect.models import Compile

log = logging.getLogger("bot.quantconnect")

BUILD_SUCCESS = "BuildSuccess"
BUILD_ERROR = "BuildError"


def poll_compile(
    read: Callable[[], Compile],
    *,
    project_id: int,
    compile_id: str,
    timeout: float,
    first_delay: float,
    max_delay: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    on_poll: Callable[[str], None] | None = None,
) -> Compile:
    """Call `read` until the build succeeds (returned), fails (BuildFailed) or times out (CompileTimeout)."""
    started = clock()
    delay = first_delay
    while True:
        compiled = read()
        if on_poll is not None:
            on_poll(compiled.state)
        if compiled.state == BUILD_SUCCESS:
            return compiled
        if compiled.state == BUILD_ERROR:
            raise BuildFailed(
                _build_error_message(project_id, compiled.logs),
                project_id=project_id,
                compile_id=compile_id,
                logs=compiled.logs,
            )
        remaining = timeout - (clock() - started)
        if remaining <= 0:
            raise CompileTimeout(
                f"Project {project_id} was still compiling ({compiled.state}) after {timeout:g} seconds. "
                "QuantConnect may be busy; try the deployment again in a few minutes.",
                project_id=project_id,
                compile_id=compile_id,
                last_state=compiled.state,
            )
        log.debug("compile/read state=%s, next poll in %.2f s", compiled.state, min(delay, remaining))
        sleep(min(delay, remaining))
        delay = min(delay * 2, max_delay)


def _build_error_message(project_id: int, logs: list[str]) -> str:
    """Summarise a failed build; the full logs stay on the exception for the channel to show."""
    first_error = next((line for line in logs if "error" in line.lower()), logs[0] if logs else None)
    detail = f" First error: {first_error}" if first_error else ""
    return f"Project {project_id} failed to compile, so nothing was deployed.{detail}"
