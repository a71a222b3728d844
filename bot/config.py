"""Settings from the environment (plus a .env file); fail fast, naming every missing or malformed setting."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import SecretStr

from bot.errors import BotError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_QC_API_URL = "https://www.quantconnect.com/api/v2/"
DEFAULT_DATABASE_URL = "sqlite:///qc-bot.sqlite3"

Mode = Literal["socket", "http", "cli"]

_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


class ConfigError(BotError):
    """One or more settings are missing or malformed; the message lists every one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The bot cannot start; fix these settings (see .env.example):\n{lines}")


@dataclass(frozen=True)
class PolicySettings:
    """Who may request, approve, stop and liquidate, and how many approvals a request needs."""

    approver_user_ids: frozenset[str] = frozenset()
    approver_group_ids: frozenset[str] = frozenset()
    requester_user_ids: frozenset[str] = frozenset()
    requester_group_ids: frozenset[str] = frozenset()
    approvals_paper: int = 0
    approvals_live: int = 1
    allow_self_approval: bool = False
    request_ttl_minutes: int = 60
    group_cache_seconds: int = 60


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment, validated."""

    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr
    slack_app_token: SecretStr | None
    deploy_channel_id: str
    database_url: str = DEFAULT_DATABASE_URL
    slack_api_url: str = DEFAULT_SLACK_API_URL
    qc_api_url: str = DEFAULT_QC_API_URL
    port: int = 3000
    policy: PolicySettings = field(default_factory=PolicySettings)
    qc_timeout_seconds: float = 30.0
    compile_timeout_seconds: float = 600.0
    deploy_workers: int = 4
    watch_interval_seconds: float = 10.0
    watch_running_interval_seconds: float = 60.0
    watch_mode: Literal["bulk", "per-deployment"] = "bulk"
    watch_list_interval_seconds: float = 5.0
    equity_refresh_seconds: float = 300.0
    project_cache_seconds: float = 300.0
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    http_threads: int = 8
    slack_channel_interval_seconds: float = 1.0
    lease_seconds: float = 15.0
    heartbeat_seconds: float = 5.0
    recovery_interval_seconds: float = 5.0
    settle_seconds: float = 600.0
    heal_interval_seconds: float = 60.0
    stop_timeout_seconds: float = 20.0
    home_refresh_seconds: float = 30.0
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

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
        reader = _Reader(env)
        bot_token = reader.secret("SLACK_BOT_TOKEN", prefix="xoxb-")
        signing_secret = reader.secret("SLACK_SIGNING_SECRET", required=mode == "http")
        app_token = reader.secret("SLACK_APP_TOKEN", prefix="xapp-", required=mode == "socket")
        channel = reader.text(
            "DEPLOY_CHANNEL_ID", required=mode != "cli", pattern=_SLACK_CHANNEL_ID, example="C0123456789"
        )
        policy = PolicySettings(
            approver_user_ids=reader.ids("APPROVER_USER_IDS", _SLACK_USER_ID, "U0123ABCD"),
            approver_group_ids=reader.ids("APPROVER_GROUP_IDS", _SLACK_GROUP_ID, "S0123ABCD"),
            requester_user_ids=reader.ids("REQUESTER_USER_IDS", _SLACK_USER_ID, "U0123ABCD"),
            requester_group_ids=reader.ids("REQUESTER_GROUP_IDS", _SLACK_GROUP_ID, "S0123ABCD"),
            approvals_paper=reader.integer("APPROVALS_PAPER", 0, minimum=0, maximum=10),
            approvals_live=reader.integer("APPROVALS_LIVE", 1, minimum=0, maximum=10),
            allow_self_approval=reader.boolean("ALLOW_SELF_APPROVAL", False),
            request_ttl_minutes=reader.integer("REQUEST_TTL_MINUTES", 60, minimum=1, maximum=7 * 24 * 60),
            group_cache_seconds=reader.integer("GROUP_CACHE_SECONDS", 60, minimum=0, maximum=3600),
        )
        if mode != "cli" and not (policy.approver_user_ids or policy.approver_group_ids):
            reader.problems.append(
                "APPROVER_USER_IDS or APPROVER_GROUP_IDS: set at least one approver "
                "(comma-separated Slack ids, e.g. U0123ABCD or S0123ABCD)"
            )
        watch_interval = reader.number("WATCH_INTERVAL_SECONDS", 10.0, minimum=0.05)
        settings = cls(
            slack_bot_token=bot_token or SecretStr(""),
            slack_signing_secret=signing_secret or SecretStr(""),
            slack_app_token=app_token,
            deploy_channel_id=channel or "",
            database_url=reader.text("DATABASE_URL", default=DEFAULT_DATABASE_URL) or DEFAULT_DATABASE_URL,
            slack_api_url=reader.url("SLACK_API_URL", DEFAULT_SLACK_API_URL),
            qc_api_url=reader.url("QC_API_URL", DEFAULT_QC_API_URL),
            port=reader.integer("PORT", 3000, minimum=1, maximum=65535),
            policy=policy,
            qc_timeout_seconds=reader.number("QC_TIMEOUT_SECONDS", 30.0, minimum=1),
            compile_timeout_seconds=reader.number("COMPILE_TIMEOUT_SECONDS", 600.0, minimum=5),
            deploy_workers=reader.integer("DEPLOY_WORKERS", 4, minimum=1, maximum=64),
            watch_interval_seconds=watch_interval,
            watch_running_interval_seconds=reader.number(
                "WATCH_RUNNING_INTERVAL_SECONDS", 60.0, minimum=0.05
            ),
            # bulk: one live/list for every deployment per interval; per-deployment: live/read of each (the
            # former way, kept for comparison and as a fallback).
            watch_mode=reader.choice("WATCH_MODE", "bulk", ("bulk", "per-deployment")),  # type: ignore[arg-type]
            # Unless set, never slower than WATCH_INTERVAL_SECONDS: a faster watch speeds up the list too.
            watch_list_interval_seconds=reader.number(
                "WATCH_LIST_INTERVAL_SECONDS",
                min(5.0, watch_interval),
                minimum=0.05,
            ),
            equity_refresh_seconds=reader.number("EQUITY_REFRESH_SECONDS", 300.0, minimum=0),
            project_cache_seconds=reader.number("PROJECT_CACHE_SECONDS", 300.0, minimum=0),
            log_level=reader.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"), upper=True),
            log_format=reader.choice("LOG_FORMAT", "text", ("text", "json")),  # type: ignore[arg-type]
            http_threads=reader.integer("HTTP_THREADS", 8, minimum=1, maximum=128),
            slack_channel_interval_seconds=reader.number("SLACK_CHANNEL_INTERVAL_SECONDS", 1.0, minimum=0),
            # A replica that dies leaves its work (deploys, watched deployments, queued messages) alone until
            # its lease runs out; its heartbeat renews the lease while it lives. WATCH_LEASE_SECONDS is the
            # setting's former name.
            lease_seconds=reader.number(
                "LEASE_SECONDS", reader.number("WATCH_LEASE_SECONDS", 15.0, minimum=3), minimum=3
            ),
            heartbeat_seconds=reader.number("HEARTBEAT_SECONDS", 5.0, minimum=0.05),
            recovery_interval_seconds=reader.number("RECOVERY_INTERVAL_SECONDS", 5.0, minimum=0.05),
            # QuantConnect may show a deployment a while after an unanswered live/create: it is only called
            # absent after the create timeout plus this long (never less than ten minutes).
            settle_seconds=reader.number("SETTLE_SECONDS", 600.0, minimum=600),
            heal_interval_seconds=reader.number("HEAL_INTERVAL_SECONDS", 60.0, minimum=1),
            stop_timeout_seconds=reader.number("STOP_TIMEOUT_SECONDS", 20.0, minimum=1),
            home_refresh_seconds=reader.number("HOME_REFRESH_SECONDS", 30.0, minimum=0),
            environ=env,
        )
        if settings.heartbeat_seconds * 2 > settings.lease_seconds:
            reader.problems.append(
                f"HEARTBEAT_SECONDS: {settings.heartbeat_seconds:g} must be at most half of LEASE_SECONDS "
                f"({settings.lease_seconds:g}), so that the lease is renewed at least twice per lease"
            )
        if reader.problems:
            raise ConfigError(reader.problems)
        return settings

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
    """The process environment over the values of a .env file (the real environment wins)."""
    base = dict(os.environ if environ is None else environ)
    path = Path(base.get("DOTENV_PATH") or dotenv_path) if (base.get("DOTENV_PATH") or dotenv_path) else None
    if path is None or not path.is_file():
        return base
    from_file = {k: v for k, v in dotenv_values(path, interpolate=False).items() if v is not None}
    return {**from_file, **base}


class _Reader:
    """Reads typed values from an environment mapping, collecting every problem instead of stopping."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def _raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return value.strip() if value is not None and value.strip() else None

    def text(
        self,
        name: str,
        *,
        required: bool = False,
        default: str | None = None,
        pattern: re.Pattern[str] | None = None,
        example: str = "",
    ) -> str | None:
        value = self._raw(name)
        if value is None:
            if required:
                self.problems.append(f"{name}: required, not set" + (f" (e.g. {example})" if example else ""))
            return default
        if pattern and not pattern.match(value):
            self.problems.append(f"{name}: {value!r} does not look like a Slack id (e.g. {example})")
            return default
        return value

    def secret(self, name: str, *, prefix: str = "", required: bool = True) -> SecretStr | None:
        value = self._raw(name)
        if value is None:
            if required:
                self.problems.append(f"{name}: required, not set")
            return None
        if prefix and not value.startswith(prefix):
            # Name the expected prefix only: the value itself is a secret.
            self.problems.append(f"{name}: must start with {prefix!r}")
            return None
        return SecretStr(value)

    def url(self, name: str, default: str) -> str:
        value = self._raw(name) or default
        if not re.match(r"^https?://[^\s/]+", value):
            self.problems.append(f"{name}: {value!r} is not an http(s) URL")
            return default
        return value if value.endswith("/") else value + "/"

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            self.problems.append(f"{name}: {value!r} is not a whole number")
            return default
        if not minimum <= number <= maximum:
            self.problems.append(f"{name}: {number} is outside {minimum}..{maximum}")
            return default
        return number

    def number(self, name: str, default: float, *, minimum: float) -> float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            self.problems.append(f"{name}: {value!r} is not a number")
            return default
        if number < minimum:
            self.problems.append(f"{name}: {number} is below the minimum {minimum}")
            return default
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        self.problems.append(f"{name}: {value!r} is not true or false")
        return default

    def choice(self, name: str, default: str, options: tuple[str, ...], *, upper: bool = False) -> str:
        value = self._raw(name)
        if value is None:
            return default
        value = value.upper() if upper else value.lower()
        if value not in options:
            self.problems.append(f"{name}: {value!r} is not one of {', '.join(options)}")
            return default
        return value

    def ids(self, name: str, pattern: re.Pattern[str], example: str) -> frozenset[str]:
        value = self._raw(name)
        if value is None:
            return frozenset()
        ids = [part.strip() for part in value.split(",") if part.strip()]
        bad = [i for i in ids if not pattern.match(i)]
        if bad:
            self.problems.append(f"{name}: {', '.join(bad)} not a valid Slack id (e.g. {example})")
        return frozenset(i for i in ids if pattern.match(i))
