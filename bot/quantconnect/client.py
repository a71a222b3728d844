"""QuantConnectClient: the narrow, typed client of QuantConnect's REST API v2 that the bot uses."""

from __future__ import annotations

import functools
import logging
import random
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import certifi
import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from bot.quantconnect.auth import QuantConnectAuth
from bot.quantconnect.auth0 import Auth0Endpoints
from bot.quantconnect.compiles import poll_compile
from bot.quantconnect.errors import (
    AuthenticationError,
    LiveCreateUncertain,
    NotSent,
    QuantConnectError,
    RequestRefused,
    Timeout,
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

DEFAULT_BASE_URL = "https://www.quantconnect.com/api/v2/"
# Retries wait their exponential delay plus up to this fraction of it at random.
JITTER = 0.5

log = logging.getLogger("bot.quantconnect")

ModelT = TypeVar("ModelT", bound=BaseModel)

# Failures that happen before the request leaves this machine: live/create certainly did nothing.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Markers QuantConnect puts in `errors` (with HTTP 200) when the credentials are wrong.
_HASH_MARKER = "hash doesn't match"
_USER_MARKER = "userid not valid"


class QuantConnectClient(Auth0Endpoints):
    """Client of QuantConnect's API v2: per-request auth, typed answers, typed errors, safe retries."""

    def __init__(
        self,
        user_id: str,
        api_token: SecretStr | str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        recovery_skew: float = 120.0,
        max_retry_after: float = 30.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.user_id = str(user_id)
        token = api_token if isinstance(api_token, SecretStr) else SecretStr(api_token)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        # A Retry-After longer than this is not slept through inside a call: the caller gets Unavailable (with
        # retry_after) and schedules its own next attempt, instead of a worker thread blocking for minutes.
        self.max_retry_after = max_retry_after
        self._rand = rand
        # Our clock and QuantConnect's may disagree: a deployment launched this much before the call counts.
        self.recovery_skew = timedelta(seconds=recovery_skew)
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            auth=QuantConnectAuth(self.user_id, token, clock),
            headers={"Accept": "application/json"},
            verify=_tls_context(),
        )

    def __repr__(self) -> str:
        return f"QuantConnectClient(user_id={self.user_id!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the underlying HTTP connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

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

    # ---- transport -------------------------------------------------------------------------------

    @staticmethod
    def _uncertain(project_id: int, reason: str) -> LiveCreateUncertain:
        return LiveCreateUncertain(
            f"QuantConnect did not confirm the deployment of project {project_id} ({reason}). It was sent "
            "once and is never resent; live/read will tell whether it went through.",
            project_id=project_id,
            reason=reason,
        )

    def _post(
        self, endpoint: str, body: dict[str, Any], *, retry: bool, context: str | None = None
    ) -> dict[str, Any]:
        """POST with auth; reads retry transient failures with jittered exponential backoff, and never
        sooner than a Retry-After QuantConnect sent."""
        attempts = self.max_retries + 1 if retry else 1
        for attempt in range(attempts):
            try:
                return self._post_once(endpoint, body, context)
            except Unavailable as exc:
                if attempt + 1 >= attempts:
                    raise
                if exc.retry_after is not None and exc.retry_after > self.max_retry_after:
                    raise
                if exc.retry_after is not None:
                    # Waited out exactly, plus a little at random so that replicas told the same do not return
                    # in the same instant.
                    delay = exc.retry_after + self.backoff_base * self._rand()
                else:
                    # Up to half again at random, so replicas that failed together retry apart; never less
                    # than the plain exponential delay, which callers budget for (a submission's look-ups
                    # before its ack must outlast Slack's 3 s when QuantConnect keeps failing).
                    delay = self.backoff_base * 2**attempt * (1 + JITTER * self._rand())
                log.info(
                    "%s failed (%s); retry %d of %d in %.2f s",
                    endpoint,
                    type(exc).__name__,
                    attempt + 1,
                    self.max_retries,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _post_once(self, endpoint: str, body: dict[str, Any], context: str | None) -> dict[str, Any]:
        """One POST, its failures mapped onto the error tree."""
        about = f" for {context}" if context else ""
        started = time.perf_counter()
        try:
            response = self._http.post(endpoint, json=body)
        except httpx.TimeoutException as exc:
            log.debug("%s -> timeout after %.0f ms", endpoint, _ms_since(started))
            raise Timeout(
                f"QuantConnect did not answer {endpoint}{about} within {self.timeout:g} seconds. "
                "Try again in a few minutes.",
                endpoint=endpoint,
            ) from exc
        except httpx.TransportError as exc:
            log.debug("%s -> %s after %.0f ms", endpoint, type(exc).__name__, _ms_since(started))
            raise Unavailable(
                f"Could not reach QuantConnect for {endpoint}{about} ({type(exc).__name__}). "
                "Try again in a few minutes.",
                endpoint=endpoint,
            ) from exc
        return self._interpret(endpoint, response, started, context)

    def _interpret(
        self, endpoint: str, response: httpx.Response, started: float, context: str | None
    ) -> dict[str, Any]:
        """Turn an HTTP answer into its JSON payload or the matching error."""
        status = response.status_code
        log.debug("%s -> HTTP %d in %.0f ms", endpoint, status, _ms_since(started))
        about = f" for {context}" if context else ""
        if status == 401:
            raise AuthenticationError(
                f"QuantConnect refused the API credentials of user {self.user_id} (missing or invalid key, "
                "or a timestamp too old). Check QC_USER_ID and QC_API_TOKEN, and this server's clock.",
                endpoint=endpoint,
            )
        if status >= 500 or status == 429:
            raise Unavailable(
                f"QuantConnect is having trouble (HTTP {status}) answering {endpoint}{about}. "
                "Try again in a few minutes.",
                endpoint=endpoint,
                retry_after=self._retry_after(response),
            )
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            if status >= 400:
                raise RequestRefused(
                    f"QuantConnect refused {endpoint}{about} with HTTP {status} and no explanation.",
                    endpoint=endpoint,
                )
            raise Unavailable(
                f"QuantConnect sent an unreadable answer to {endpoint}{about}.", endpoint=endpoint
            )
        errors = [str(item) for item in payload.get("errors") or []]
        if payload.get("success") is False or status >= 400:
            self._raise_refusal(endpoint, about, status, errors)
        return payload

    def _retry_after(self, response: httpx.Response) -> float | None:
        """Seconds from Retry-After (delta-seconds or an HTTP date); None when absent or unreadable."""
        value = (response.headers.get("Retry-After") or "").strip()
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, moment.timestamp() - self._clock())

    def _raise_refusal(self, endpoint: str, about: str, status: int, errors: list[str]) -> None:
        """Raise AuthenticationError for credential problems, else RequestRefused in QuantConnect's words."""
        lowered = [error.lower() for error in errors]
        # QuantConnect's own credential messages are not repeated: only our plain summary goes out.
        if any(_HASH_MARKER in error for error in lowered):
            raise AuthenticationError(
                f"QuantConnect says the API token does not match user {self.user_id}. Check QC_API_TOKEN.",
                endpoint=endpoint,
            )
        if any(_USER_MARKER in error for error in lowered):
            raise AuthenticationError(
                f"QuantConnect does not know user id {self.user_id}. Check QC_USER_ID.", endpoint=endpoint
            )
        reason = "; ".join(errors) if errors else f"no reason given (HTTP {status})"
        raise RequestRefused(
            f"QuantConnect refused {endpoint}{about}: {reason}", endpoint=endpoint, errors=errors
        )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client: loading the CA bundle costs ~0.1 s per client otherwise."""
    return ssl.create_default_context(cafile=certifi.where())


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


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
