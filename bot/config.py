"""Settings from the environment (plus a .env file): one pydantic-settings model that fails fast, naming every
missing or malformed setting at once."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from dotenv import dotenv_values
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.env_settings import (
    EnvSettings,
    Flag,
    HttpUrl,
    choice,
    number,
    problem,
    problem_line,
    problems,
    read_settings,
    slack_id,
    slack_ids,
    token,
    whole_number,
)
from bot.errors import BotError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_QC_API_URL = "https://www.quantconnect.com/api/v2/"
DEFAULT_DATABASE_URL = "sqlite:///qc-bot.sqlite3"
DEFAULT_WATCH_LIST_INTERVAL_SECONDS = 5.0

Mode = Literal["socket", "http", "cli"]

_USER_IDS = slack_ids(r"^[UW][A-Z0-9]{2,}$", "U0123ABCD")
_GROUP_IDS = slack_ids(r"^S[A-Z0-9]{2,}$", "S0123ABCD")
SlackIds = frozenset[str]


class ConfigError(BotError):
    """One or more settings are missing or malformed; the message lists every one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The bot cannot start; fix these settings (see .env.example):\n{lines}")


class PolicySettings(BaseModel):
    """Who may request, approve, stop and liquidate, and how many approvals a request needs."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    # Serving Slack needs at least one approver; the command-line tools do not (Settings sets it by mode).
    approvers_required: bool = Field(False, exclude=True, repr=False)
    approver_user_ids: Annotated[SlackIds, _USER_IDS] = Field(
        frozenset(), validation_alias="APPROVER_USER_IDS"
    )
    approver_group_ids: Annotated[SlackIds, _GROUP_IDS] = Field(
        frozenset(), validation_alias="APPROVER_GROUP_IDS", validate_default=True
    )
    requester_user_ids: Annotated[SlackIds, _USER_IDS] = Field(
        frozenset(), validation_alias="REQUESTER_USER_IDS"
    )
    requester_group_ids: Annotated[SlackIds, _GROUP_IDS] = Field(
        frozenset(), validation_alias="REQUESTER_GROUP_IDS"
    )
    approvals_paper: Annotated[int, whole_number(0, 10)] = Field(0, validation_alias="APPROVALS_PAPER")
    approvals_live: Annotated[int, whole_number(0, 10)] = Field(1, validation_alias="APPROVALS_LIVE")
    allow_self_approval: Flag = Field(False, validation_alias="ALLOW_SELF_APPROVAL")
    request_ttl_minutes: Annotated[int, whole_number(1, 7 * 24 * 60)] = Field(
        60, validation_alias="REQUEST_TTL_MINUTES"
    )
    group_cache_seconds: Annotated[int, whole_number(0, 3600)] = Field(
        60, validation_alias="GROUP_CACHE_SECONDS"
    )

    @field_validator("approver_group_ids")
    @classmethod
    def _someone_approves(cls, groups: frozenset[str], info: ValidationInfo) -> frozenset[str]:
        users = info.data.get("approver_user_ids")
        if info.data.get("approvers_required") and users is not None and not (users or groups):
            raise problem_line(
                "APPROVER_USER_IDS or APPROVER_GROUP_IDS: set at least one approver "
                "(comma-separated Slack ids, e.g. U0123ABCD or S0123ABCD)"
            )
        return groups


class Settings(EnvSettings):
    """Everything the bot reads from its environment, validated."""

    # Which way the bot runs decides what is required (None: built in code, nothing more is required).
    mode: Mode | None = Field(None, exclude=True)
    slack_bot_token: Annotated[SecretStr, token("xoxb-")] = Field(validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr = Field(
        SecretStr(""), validation_alias="SLACK_SIGNING_SECRET", validate_default=True
    )
    slack_app_token: Annotated[SecretStr | None, token("xapp-")] = Field(
        None, validation_alias="SLACK_APP_TOKEN", validate_default=True
    )
    deploy_channel_id: Annotated[str, slack_id(r"^[CGD][A-Z0-9]{2,}$", "C0123456789")] = Field(
        "", validation_alias="DEPLOY_CHANNEL_ID", validate_default=True
    )
    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    slack_api_url: HttpUrl = Field(DEFAULT_SLACK_API_URL, validation_alias="SLACK_API_URL")
    qc_api_url: HttpUrl = Field(DEFAULT_QC_API_URL, validation_alias="QC_API_URL")
    port: Annotated[int, whole_number(1, 65535)] = Field(3000, validation_alias="PORT")
    policy: PolicySettings = Field(default_factory=PolicySettings)
    qc_timeout_seconds: Annotated[float, number(1)] = Field(30.0, validation_alias="QC_TIMEOUT_SECONDS")
    compile_timeout_seconds: Annotated[float, number(5)] = Field(
        600.0, validation_alias="COMPILE_TIMEOUT_SECONDS"
    )
    deploy_workers: Annotated[int, whole_number(1, 64)] = Field(4, validation_alias="DEPLOY_WORKERS")
    # Deployments an emergency stop-all stops at once (QuantConnect documents no rate limit; stay polite).
    stop_all_concurrency: Annotated[int, whole_number(1, 32)] = Field(
        4, validation_alias="STOP_ALL_CONCURRENCY"
    )
    watch_interval_seconds: Annotated[float, number(0.05)] = Field(
        10.0, validation_alias="WATCH_INTERVAL_SECONDS"
    )
    watch_running_interval_seconds: Annotated[float, number(0.05)] = Field(
        60.0, validation_alias="WATCH_RUNNING_INTERVAL_SECONDS"
    )
    fills_interval_seconds: Annotated[float, number(0)] = Field(
        60.0, validation_alias="FILLS_INTERVAL_SECONDS"
    )
    fills_idle_max_seconds: Annotated[float, number(0)] = Field(
        300.0, validation_alias="FILLS_IDLE_MAX_SECONDS"
    )
    statistics_refresh_seconds: Annotated[float, number(0)] = Field(
        300.0, validation_alias="STATISTICS_REFRESH_SECONDS"
    )
    # QuantConnect calls a minute for reads that can wait (statistics for P&L, orders for fills); 0: no limit.
    qc_reads_per_minute: Annotated[float, number(0)] = Field(3.0, validation_alias="QC_READS_PER_MINUTE")
    digest_time_utc: str | None = Field(None, validation_alias="DIGEST_TIME_UTC")
    # bulk: one live/list for every deployment per interval; per-deployment: live/read of each (the former
    # way, kept for comparison and as a fallback).
    watch_mode: Annotated[Literal["bulk", "per-deployment"], choice(("bulk", "per-deployment"))] = Field(
        "bulk", validation_alias="WATCH_MODE"
    )
    # Unless set, never slower than WATCH_INTERVAL_SECONDS: a faster watch speeds up the list too.
    watch_list_interval_seconds: Annotated[float, number(0.05)] = Field(
        None,  # type: ignore[assignment]  # filled in by _list_interval_from_watch_interval
        validation_alias="WATCH_LIST_INTERVAL_SECONDS",
        validate_default=True,
    )
    project_cache_seconds: Annotated[float, number(0)] = Field(
        300.0, validation_alias="PROJECT_CACHE_SECONDS"
    )
    log_level: Annotated[str, choice(("DEBUG", "INFO", "WARNING", "ERROR"), upper=True)] = Field(
        "INFO", validation_alias="LOG_LEVEL"
    )
    log_format: Annotated[Literal["text", "json"], choice(("text", "json"))] = Field(
        "text", validation_alias="LOG_FORMAT"
    )
    http_threads: Annotated[int, whole_number(1, 128)] = Field(8, validation_alias="HTTP_THREADS")
    slack_channel_interval_seconds: Annotated[float, number(0)] = Field(
        1.0, validation_alias="SLACK_CHANNEL_INTERVAL_SECONDS"
    )
    # A replica that dies leaves its work (deploys, watched deployments, queued messages) alone until its
    # lease runs out; its heartbeat renews the lease while it lives. WATCH_LEASE_SECONDS is the former name.
    lease_seconds: Annotated[float, number(3)] = Field(
        15.0, validation_alias=AliasChoices("LEASE_SECONDS", "WATCH_LEASE_SECONDS")
    )
    heartbeat_seconds: Annotated[float, number(0.05)] = Field(
        5.0, validation_alias="HEARTBEAT_SECONDS", validate_default=True
    )
    recovery_interval_seconds: Annotated[float, number(0.05)] = Field(
        5.0, validation_alias="RECOVERY_INTERVAL_SECONDS"
    )
    # QuantConnect may show a deployment a while after an unanswered live/create: it is only called absent
    # after the create timeout plus this long (never less than ten minutes).
    settle_seconds: Annotated[float, number(600)] = Field(600.0, validation_alias="SETTLE_SECONDS")
    heal_interval_seconds: Annotated[float, number(1)] = Field(60.0, validation_alias="HEAL_INTERVAL_SECONDS")
    stop_timeout_seconds: Annotated[float, number(1)] = Field(20.0, validation_alias="STOP_TIMEOUT_SECONDS")
    home_refresh_seconds: Annotated[float, number(0)] = Field(30.0, validation_alias="HOME_REFRESH_SECONDS")
    # The whole environment the settings came from: the secret backends read it too.
    environ: Mapping[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        mode: Mode = "socket",
        dotenv_path: str | Path | None = ".env",
    ) -> Settings:
        """Read and validate settings; raise ConfigError listing every problem at once."""
        env = load_environment(environ, dotenv_path)
        try:
            return read_settings(cls, env, mode=mode, environ=env)
        except ValidationError as exc:
            raise ConfigError(problems(exc, cls)) from None

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret_in_http_mode(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        if info.data.get("mode") == "http" and not value.get_secret_value():
            raise problem("required, not set")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_in_socket_mode(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("mode") == "socket" and value is None:
            raise problem("required, not set")
        return value

    @field_validator("deploy_channel_id")
    @classmethod
    def _channel_unless_cli(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("mode") in ("socket", "http") and not value:
            raise problem("required, not set (e.g. C0123456789)")
        return value

    @field_validator("policy", mode="before")
    @classmethod
    def _approvers_unless_cli(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict) and info.data.get("mode") in ("socket", "http"):
            return {**value, "approvers_required": True}
        return value

    @field_validator("digest_time_utc", mode="before")
    @classmethod
    def _digest_time(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = str(value).strip()
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", text):
            raise problem(f"{text!r} is not a time of day like 21:30 (HH:MM, UTC)")
        return text

    @field_validator("watch_list_interval_seconds", mode="before")
    @classmethod
    def _list_interval_from_watch_interval(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return min(DEFAULT_WATCH_LIST_INTERVAL_SECONDS, info.data.get("watch_interval_seconds", 10.0))
        return value

    @field_validator("heartbeat_seconds")
    @classmethod
    def _renewed_twice_per_lease(cls, value: float, info: ValidationInfo) -> float:
        lease = info.data.get("lease_seconds")
        if lease is not None and value * 2 > lease:
            raise problem(
                f"{value:g} must be at most half of LEASE_SECONDS ({lease:g}), so that the lease is renewed "
                "at least twice per lease"
            )
        return value

    @property
    def port_given(self) -> bool:
        """PORT was set: Socket Mode then serves /healthz on it (HTTP mode always listens on `port`)."""
        return bool((self.environ.get("PORT") or "").strip())

    @property
    def settle_window_seconds(self) -> float:
        """How long after live/create QuantConnect's silence counts as 'nothing was deployed'."""
        return self.qc_timeout_seconds + self.settle_seconds

    def secret_values(self) -> list[str]:
        """Every secret value held in settings, for the log redaction registry."""
        return list(self.named_secrets().values())

    def named_secrets(self) -> dict[str, str]:
        """Every secret value held in settings by the setting's name, e.g. SLACK_BOT_TOKEN (for the mask)."""
        secrets = {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "SLACK_APP_TOKEN": self.slack_app_token,
        }
        return {
            name: s.get_secret_value()
            for name, s in secrets.items()
            if s is not None and s.get_secret_value()
        }


def load_environment(
    environ: Mapping[str, str] | None = None, dotenv_path: str | Path | None = ".env"
) -> dict[str, str]:
    """The process environment over the values of a .env file (the real environment wins).

    Read with python-dotenv without interpolation: a secret holding `$` must be taken literally.
    """
    base = dict(os.environ if environ is None else environ)
    path = Path(base.get("DOTENV_PATH") or dotenv_path) if (base.get("DOTENV_PATH") or dotenv_path) else None
    if path is None or not path.is_file():
        return base
    from_file = {k: v for k, v in dotenv_values(path, interpolate=False).items() if v is not None}
    return {**from_file, **base}
