"""QuantConnectClient: the narrow, typed client of QuantConnect's REST API v2 that the bot uses.

The endpoints it calls, their answers typed; the connection, auth, retries and errors are the transport's
(bot/quantconnect/transport.py), the live/auth0 endpoints are in bot/quantconnect/auth0.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from bot.quantconnect.auth0 import Auth0Endpoints
from bot.quantconnect.compiles import poll_compile
from bot.quantconnect.errors import (
    LiveCreateUncertain,
    NotSent,
    QuantConnectError,
    Unavailable,
)
from bot.quantconnect.live_list import LiveSummary, parse_live_list
from bot.quantconnect.models import (
    Compile,
    LeanVersion,
    LiveAlgorithm,
    LiveCreateResult,
    Node,
    Project,
    ProjectNodes,
)
from bot.quantconnect.nodes import pick_live_node
from bot.quantconnect.orders import LiveOrdersPage
from bot.quantconnect.portfolio import LivePortfolio
from bot.quantconnect.transport import DEFAULT_BASE_URL

__all__ = ["DEFAULT_BASE_URL", "QuantConnectClient"]

log = logging.getLogger("bot.quantconnect")

ModelT = TypeVar("ModelT", bound=BaseModel)

# Failures that happen before the request leaves this machine: live/create certainly did nothing.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class QuantConnectClient(Auth0Endpoints):
    """Client of QuantConnect's API v2: per-request auth, typed answers, typed errors, safe retries."""

    # ---- endpoints -------------------------------------------------------------------------------

    def authenticate(self) -> None:
        """Check the user id and API token; raises AuthenticationError when QuantConnect refuses them."""
        self._post("authenticate", {}, retry=True)

    def read_projects(self, project_id: int | None = None) -> list[Project]:
        """All projects of the account, or just `project_id`."""
        body = {} if project_id is None else {"projectId": project_id}
        context = None if project_id is None else f"project {project_id}"
        payload = self._post("projects/read", body, retry=True, context=context)
        return [_parse(Project, item, "projects/read") for item in payload.get("projects") or []]

    def read_lean_versions(self) -> list[LeanVersion]:
        """Every Lean version QuantConnect offers, as lean/versions/read lists them."""
        payload = self._post("lean/versions/read", {}, retry=True)
        return [_parse(LeanVersion, item, "lean/versions/read") for item in payload.get("versions") or []]

    def create_compile(self, project_id: int) -> Compile:
        """Start compiling the project; the answer is usually still InQueue."""
        payload = self._post(
            "compile/create", {"projectId": project_id}, retry=False, context=f"project {project_id}"
        )
        return _parse(Compile, {"projectId": project_id, **payload}, "compile/create")

    def read_compile(self, project_id: int, compile_id: str) -> Compile:
        """The current state (and logs) of a compile job."""
        payload = self._post(
            "compile/read",
            {"projectId": project_id, "compileId": compile_id},
            retry=True,
            context=f"project {project_id}",
        )
        return _parse(Compile, {"projectId": project_id, "compileId": compile_id, **payload}, "compile/read")

    def read_nodes(self, project_id: int) -> ProjectNodes:
        """The backtest, research and live nodes the project can use."""
        payload = self._post(
            "projects/nodes/read", {"projectId": project_id}, retry=True, context=f"project {project_id}"
        )
        nodes = dict(payload.get("nodes") or {})
        if "autoSelectNode" in payload:
            nodes["autoSelectNode"] = payload["autoSelectNode"]
        return _parse(ProjectNodes, nodes, "projects/nodes/read")

    def create_live(self, body: dict[str, Any]) -> LiveCreateResult:
        """Deploy live, exactly one POST, never retried.

        Raises RequestRefused / AuthenticationError when QuantConnect refused (nothing was deployed),
        NotSent when the request never left this machine, and LiveCreateUncertain when it may have reached
        QuantConnect without a clear answer: the caller then asks live/read (find_deployment_since) and
        never resends.
        """
        project_id = _project_id_of(body)
        context = f"project {project_id}"
        started = time.perf_counter()
        try:
            response = self._http.post("live/create", json=body)
        except _NOT_SENT as exc:
            raise NotSent(
                f"Could not reach QuantConnect to deploy project {project_id} ({type(exc).__name__}); "
                "nothing was deployed. Try again in a few minutes.",
                endpoint="live/create",
            ) from exc
        except httpx.TimeoutException:
            log.warning("live/create for %s timed out; its outcome must be read from live/read", context)
            raise self._uncertain(project_id, "QuantConnect did not answer in time") from None
        except httpx.TransportError as exc:
            log.warning("live/create for %s lost its connection (%s)", context, type(exc).__name__)
            raise self._uncertain(project_id, "the connection dropped before an answer") from None
        try:
            payload = self._interpret("live/create", response, started, context)
            return LiveCreateResult.from_response(payload, project_id)
        except Unavailable as exc:
            log.warning("live/create for %s failed unclearly (%s)", context, type(exc).__name__)
            raise self._uncertain(project_id, f"QuantConnect answered HTTP {response.status_code}") from None
        except (ValueError, ValidationError):
            log.warning("live/create for %s sent an unreadable success answer", context)
            raise self._uncertain(project_id, "QuantConnect's answer could not be read") from None

    def read_live(self, project_id: int, deploy_id: str | None = None) -> LiveAlgorithm:
        """The project's current (or the given) deployment; status "Undefined" when nothing was deployed."""
        body: dict[str, Any] = {"projectId": project_id}
        if deploy_id is not None:
            body["deployId"] = deploy_id
        payload = self._post("live/read", body, retry=True, context=f"project {project_id}")
        live = payload["live"] if isinstance(payload.get("live"), dict) else payload
        parsed = _parse(LiveAlgorithm, live, "live/read")
        return (
            parsed if parsed.project_id is not None else parsed.model_copy(update={"project_id": project_id})
        )

    def list_live(self, status: str | None = None, project_id: int | None = None) -> list[LiveAlgorithm]:
        """Past and present deployments; status may be Running, Stopped, RuntimeError or Liquidated."""
        body: dict[str, Any] = {}
        if status is not None:
            body["status"] = status
        if project_id is not None:
            body["projectId"] = project_id
        context = None if project_id is None else f"project {project_id}"
        payload = self._post("live/list", body, retry=True, context=context)
        return [_parse(LiveAlgorithm, item, "live/list") for item in payload.get("live") or []]

    def read_live_orders(self, project_id: int, start: int, end: int) -> LiveOrdersPage:
        """Orders `start` to `end` (at most PAGE_SIZE apart) of the project's live algorithm."""
        body = {"projectId": project_id, "start": start, "end": end}
        payload = self._post("live/orders/read", body, retry=True, context=f"project {project_id}")
        if payload.get("status") == "loading":
            return LiveOrdersPage(loading=True)
        return _parse(LiveOrdersPage, {"orders": payload.get("orders") or []}, "live/orders/read")

    def read_portfolio(self, project_id: int) -> LivePortfolio:
        """The live algorithm's holdings and cash as of QuantConnect's last snapshot (about every 10 min)."""
        payload = self._post(
            "live/portfolio/read", {"projectId": project_id}, retry=True, context=f"project {project_id}"
        )
        return LivePortfolio.from_response(payload, datetime.now(UTC))

    def live_summaries(self, status: str | None = None) -> list[LiveSummary]:
        """Every deployment of the account in one call (live/list), as light summaries for the watcher.

        QuantConnect's live/list takes no paging parameters (OpenAPI ListLiveAlgorithmsRequest: projectId,
        status): one answer lists everything. Items are read field by field, not through a model, because
        the watcher reads thousands of them every few seconds.
        """
        body: dict[str, Any] = {} if status is None else {"status": status}
        return parse_live_list(self._post("live/list", body, retry=True))

    def stop_live(self, project_id: int) -> None:
        """Stop the project's live algorithm (positions stay open)."""
        self._post(
            "live/update/stop", {"projectId": project_id}, retry=False, context=f"project {project_id}"
        )

    def liquidate_live(self, project_id: int) -> None:
        """Liquidate the project's positions and stop its live algorithm."""
        self._post(
            "live/update/liquidate", {"projectId": project_id}, retry=False, context=f"project {project_id}"
        )

    # ---- helpers the deployer calls --------------------------------------------------------------

    def wait_for_compile(
        self,
        project_id: int,
        compile_id: str,
        *,
        timeout: float = 300,
        first_delay: float = 0.5,
        max_delay: float = 10,
        on_poll: Callable[[str], None] | None = None,
    ) -> Compile:
        """Poll compile/read until BuildSuccess (returned), BuildError (BuildFailed) or CompileTimeout."""
        return poll_compile(
            lambda: self.read_compile(project_id, compile_id),
            project_id=project_id,
            compile_id=compile_id,
            timeout=timeout,
            first_delay=first_delay,
            max_delay=max_delay,
            sleep=self._sleep,
            clock=self._clock,
            on_poll=on_poll,
        )

    def choose_node(self, project_id: int, node_id: str | None) -> Node:
        """The named live node (must exist and be free) or the first free live node without a GPU."""
        return pick_live_node(project_id, self.read_nodes(project_id).live, node_id)

    def find_deployment_since(
        self, project_id: int, since: datetime, previous_deploy_id: str | None
    ) -> LiveAlgorithm | None:
        """The deployment live/read shows, if it replaced `previous_deploy_id` or launched since `since`."""
        live = self.read_live(project_id)
        if not live.exists:
            return None
        if previous_deploy_id is not None:
            return live if live.deploy_id != previous_deploy_id else None
        since_utc = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        if live.launched is not None and live.launched >= since_utc - self.recovery_skew:
            return live
        return None

    @staticmethod
    def _uncertain(project_id: int, reason: str) -> LiveCreateUncertain:
        return LiveCreateUncertain(
            f"QuantConnect did not confirm the deployment of project {project_id} ({reason}). It was sent "
            "once and is never resent; live/read will tell whether it went through.",
            project_id=project_id,
            reason=reason,
        )


def _project_id_of(body: dict[str, Any]) -> int:
    """The projectId of a live/create body, checked before anything is sent."""
    value = body.get("projectId")
    if isinstance(value, bool) or not isinstance(value, int):
        raise QuantConnectError(
            "The live/create request needs an integer projectId; nothing was sent.", endpoint="live/create"
        )
    return value


def _parse(model: type[ModelT], data: Any, endpoint: str) -> ModelT:
    """Validate a response fragment; the error names fields only, never values."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(part) for part in err["loc"]) or "(answer)" for err in exc.errors())
        raise QuantConnectError(
            f"QuantConnect's answer to {endpoint} could not be read (problem with: {fields}).",
            endpoint=endpoint,
        ) from None
