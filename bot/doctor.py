"""`python -m bot check`: is the bot ready to run? Settings, Slack (and in Socket Mode the app-level token),
QuantConnect, the database, every credential profile.

Each check prints one line, `ok` or `FAIL` with what to fix, and every check runs even when an earlier one
failed (using the raw environment where the settings could not be read), so one run lists every problem.
Nothing secret is printed: credentials are named by their field, never shown.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO

from pydantic import SecretStr

from bot.config import (
    DEFAULT_DATABASE_URL,
    DEFAULT_QC_API_URL,
    DEFAULT_SLACK_API_URL,
    ConfigError,
    Settings,
    load_environment,
)
from bot.errors import BotError
from bot.holders import holder_lines
from bot.secrets import CredentialProfiles, SecretSettings, build_secret_store

if TYPE_CHECKING:
    from slack_sdk import WebClient

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
NETWORK_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: its name, whether it passed, and what it found or what to fix."""

    name: str
    ok: bool
    message: str

    def line(self) -> str:
        """The printed line: `ok    name: message` or `FAIL  name: message`."""
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name}: {self.message}"


def ok(name: str, message: str) -> CheckResult:
    """A passed check."""
    return CheckResult(name, True, message)


def fail(name: str, message: str) -> CheckResult:
    """A failed check, with what to fix."""
    return CheckResult(name, False, message)


@dataclass(frozen=True)
class Target:
    """What the checks connect to: from valid settings, or read raw from the environment when they are not."""

    slack_token: SecretStr | None
    app_token: SecretStr | None
    slack_api_url: str
    channel_id: str
    database_url: str
    qc_api_url: str
    qc_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Target:
        """Everything from validated settings."""
        return cls(
            slack_token=settings.slack_bot_token if settings.slack_bot_token.get_secret_value() else None,
            app_token=settings.slack_app_token,
            slack_api_url=settings.slack_api_url,
            channel_id=settings.deploy_channel_id,
            database_url=settings.database_url,
            qc_api_url=settings.qc_api_url,
            qc_timeout=min(settings.qc_timeout_seconds, NETWORK_TIMEOUT_SECONDS),
        )

    @classmethod
    def from_raw(cls, env: Mapping[str, str]) -> Target:
        """Best effort from the raw environment, so later checks still run after a configuration error."""
        token = (env.get("SLACK_BOT_TOKEN") or "").strip()
        app_token = (env.get("SLACK_APP_TOKEN") or "").strip()
        return cls(
            slack_token=SecretStr(token) if token else None,
            app_token=SecretStr(app_token) if app_token else None,
            slack_api_url=(env.get("SLACK_API_URL") or "").strip() or DEFAULT_SLACK_API_URL,
            channel_id=(env.get("DEPLOY_CHANNEL_ID") or "").strip(),
            database_url=(env.get("DATABASE_URL") or "").strip() or DEFAULT_DATABASE_URL,
            qc_api_url=(env.get("QC_API_URL") or "").strip() or DEFAULT_QC_API_URL,
            qc_timeout=NETWORK_TIMEOUT_SECONDS,
        )


# -- the checks ----------------------------------------------------------------------------------------


def check_config(env: Mapping[str, str], mode: str) -> tuple[list[CheckResult], Settings | None]:
    """Settings as the bot would read them at start: one line per problem."""
    try:
        settings = Settings.from_env(env, mode=mode, dotenv_path=None)  # type: ignore[arg-type]
    except ConfigError as exc:
        return [fail("config", problem) for problem in exc.problems], None
    return [ok("config", f"settings are complete for {mode} mode")], settings


def check_slack(target: Target) -> list[CheckResult]:
    """The bot token works (auth.test) and the bot is a member of the deploy channel (conversations.info)."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    if target.slack_token is None:
        return [fail("slack", "SLACK_BOT_TOKEN is not set, so Slack cannot be checked")]
    client = WebClient(
        token=target.slack_token.get_secret_value(),
        base_url=target.slack_api_url,
        timeout=NETWORK_TIMEOUT_SECONDS,
    )
    results: list[CheckResult] = []
    try:
        auth = client.auth_test()
        who = f"@{auth.get('user')} in {auth.get('team')}"
        results.append(ok("slack", f"the bot token works ({who})"))
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        hint = (
            "SLACK_BOT_TOKEN is wrong or revoked: copy the Bot User OAuth Token (xoxb-...) from the app's "
            "OAuth & Permissions page"
            if error in {"invalid_auth", "not_authed", "account_inactive", "token_revoked"}
            else "check SLACK_BOT_TOKEN and SLACK_API_URL"
        )
        return [fail("slack", f"auth.test answered {error}: {hint}")]
    except Exception as exc:  # network trouble of any kind: say where, keep checking the rest
        return [fail("slack", f"cannot reach Slack at {target.slack_api_url} ({type(exc).__name__})")]
    results.append(_check_channel(client, target.channel_id))
    return results


def check_app_token(target: Target) -> list[CheckResult]:
    """Socket Mode: Slack accepts the app-level token and hands out connections (apps.connections.open)."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from bot.app_token import AppTokenRefused, open_socket_url

    name = "slack app token"
    if target.app_token is None:
        return [fail(name, "SLACK_APP_TOKEN is not set, so Socket Mode cannot be checked")]
    client = WebClient(base_url=target.slack_api_url, timeout=NETWORK_TIMEOUT_SECONDS)
    try:
        open_socket_url(client, target.app_token.get_secret_value())
    except AppTokenRefused as exc:
        return [fail(name, exc.user_message)]
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        return [
            fail(name, f"apps.connections.open answered {error}: check Socket Mode in the app's settings")
        ]
    except Exception as exc:
        return [fail(name, f"cannot reach Slack at {target.slack_api_url} ({type(exc).__name__})")]
    # The URL is not opened: a Socket Mode connection here would take events from the running bot.
    return [
        ok(name, "SLACK_APP_TOKEN works: Slack hands out Socket Mode connections (apps.connections.open)")
    ]


def _check_channel(client: WebClient, channel_id: str) -> CheckResult:
    from slack_sdk.errors import SlackApiError

    name = "slack channel"
    if not channel_id:
        return fail(name, "DEPLOY_CHANNEL_ID is not set, so the deploy channel cannot be checked")
    try:
        info = client.conversations_info(channel=channel_id)
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error")
        if error == "channel_not_found":
            return fail(
                name,
                f"DEPLOY_CHANNEL_ID {channel_id} not found: check the id (channel details > About), "
                "and for a private channel invite the bot first",
            )
        if error == "missing_scope":
            return fail(
                name, "the bot lacks a scope to read the channel: reinstall the app from manifest.yml"
            )
        return fail(name, f"conversations.info for {channel_id} answered {error}")
    except Exception as exc:
        return fail(name, f"cannot reach Slack to read channel {channel_id} ({type(exc).__name__})")
    channel = info.get("channel") or {}
    label = f"#{channel.get('name') or channel_id} ({channel_id})"
    if channel.get("is_archived"):
        return fail(name, f"{label} is archived: unarchive it or set DEPLOY_CHANNEL_ID to another channel")
    if not channel.get("is_member"):
        return fail(name, f"the bot is not in {label}: type `/invite @<bot name>` in that channel")
    return ok(name, f"the bot is a member of {label}")


def _profiles(env: Mapping[str, str]) -> CredentialProfiles:
    """The credential profiles in the configured secret store (raises a BotError naming a bad setting)."""
    return CredentialProfiles(build_secret_store(SecretSettings.from_env(env), env))


def check_quantconnect(env: Mapping[str, str], target: Target) -> list[CheckResult]:
    """The QuantConnect user id and API token from the secret store are accepted (authenticate)."""
    from bot.quantconnect.client import QuantConnectClient

    name = "quantconnect"
    try:
        profiles = _profiles(env)
        user_id, token = profiles.quantconnect_credentials()
    except BotError as exc:
        return [fail(name, exc.user_message)]
    try:
        with QuantConnectClient(user_id, token, base_url=target.qc_api_url, timeout=target.qc_timeout) as qc:
            qc.authenticate()
    except BotError as exc:
        return [fail(name, f"{exc.user_message} (QC_USER_ID {user_id}, QC_API_URL {target.qc_api_url})")]
    except Exception as exc:
        return [fail(name, f"cannot reach QuantConnect at {target.qc_api_url} ({type(exc).__name__})")]
    return [ok(name, f"QC_USER_ID {user_id} and QC_API_TOKEN are accepted")]


def check_database(target: Target) -> list[CheckResult]:
    """The database answers and carries the current schema; then who holds which work (for operators)."""
    import sqlalchemy as sa

    from bot.store import Store

    name = "database"
    try:
        store = Store(target.database_url, migrate=False)
    except sa.exc.SQLAlchemyError as exc:
        return [fail(name, f"DATABASE_URL is not a usable database URL ({type(exc).__name__})")]
    backend = store.engine.dialect.name
    try:
        try:
            with store.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            # The URL may hold a password: name the failure's kind and the backend, never the URL.
            return [
                fail(name, f"cannot connect to the {backend} database in DATABASE_URL ({type(exc).__name__})")
            ]
        if not store.schema_current():
            return [
                fail(
                    name,
                    f"the {backend} database answers but its schema is missing or old: start the bot once "
                    "(it creates and upgrades the schema at start)",
                )
            ]
        results = [ok(name, f"the {backend} database answers and its schema is current")]
        results += [
            ok("replicas", line)
            for line in holder_lines(store.replicas(datetime.now(UTC)), datetime.now(UTC))
        ]
        return results
    finally:
        store.dispose()


def check_profiles(env: Mapping[str, str]) -> list[CheckResult]:
    """Every credential profile: complete, or what it lacks for each brokerage model it could serve."""
    from bot.secrets.keys import PROFILES

    try:
        profiles = _profiles(env)
        # Every name with any key, so a profile missing its brokerage key is reported too.
        keys = profiles.store.list_keys(f"{PROFILES}/")
        names = sorted({key.split("/")[1] for key in keys if key.count("/") == 2})
    except BotError as exc:
        return [fail("profiles", exc.user_message)]
    if not names:
        return [
            ok(
                "profiles",
                "no credential profiles: only QuantConnect paper trading can be deployed; add profiles "
                "as described in docs/secrets.md",
            )
        ]
    return [_check_profile(profiles, name) for name in names]


def _check_profile(profiles: CredentialProfiles, profile: str) -> CheckResult:
    from bot.brokerages import registry as models

    name = f"profile {profile}"
    try:
        brokerage = profiles.brokerage_of(profile)
        candidates = models.models_for_brokerage_id(brokerage)
        if not candidates:
            known = ", ".join(sorted({m.brokerage_id for m in models.all_models()}))
            return fail(name, f"brokerage '{brokerage}' is unknown to this bot; use one of: {known}")
        complete: list[str] = []
        lacking: list[str] = []
        for model in candidates:
            missing = profiles.missing_fields(profile, model)
            if missing:
                fields = ", ".join(f"{model.field(field).label} ({field})" for field in missing)
                lacking.append(f"{model.display_name} lacks {fields}")
            else:
                complete.append(model.display_name)
    except BotError as exc:
        return fail(name, exc.user_message)
    parts = []
    if complete:
        parts.append(f"complete for {', '.join(complete)}")
    if lacking:
        parts.append("; ".join(lacking))
    message = f"{brokerage}: " + "; ".join(parts)
    return (
        ok(name, message)
        if complete
        else fail(name, message + " — store the missing fields (docs/secrets.md)")
    )


# -- running ------------------------------------------------------------------------------------------------


def run_checks(env: Mapping[str, str], mode: str = "socket") -> Iterator[CheckResult]:
    """Every check in order, each one running whatever happened before."""
    config, settings = check_config(env, mode)
    yield from config
    target = Target.from_settings(settings) if settings is not None else Target.from_raw(env)
    yield from check_slack(target)
    if mode == "socket":
        yield from check_app_token(target)
    yield from check_quantconnect(env, target)
    yield from check_database(target)
    yield from check_profiles(env)
    from bot.doctor_presets import check_notification_presets

    yield from check_notification_presets(env)


def _register_secrets(env: Mapping[str, str]) -> None:
    """Mask the tokens this process reads, should any library log one."""
    from bot.secrets import DEFAULT_REGISTRY
    from bot.secrets.redaction import install_redaction

    install_redaction()
    for key in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "QC_API_TOKEN"):
        DEFAULT_REGISTRY.register(env.get(key) or None, "qc-api-token" if key == "QC_API_TOKEN" else key)


def main(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None, out: TextIO | None = None
) -> int:
    """Print one line per check; exit 0 when all pass, 1 when any fails, 2 on a usage error."""
    parser = argparse.ArgumentParser(
        prog="python -m bot check",
        description="Check settings, Slack, QuantConnect, the database and every credential profile.",
    )
    parser.add_argument(
        "--http", action="store_true", help="check the settings of HTTP mode (default Socket Mode)"
    )
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return int(exc.code or 0) if exc.code in (0, None) else EXIT_USAGE
    stream = out or sys.stdout
    # A given environment (tests) is taken as complete; by hand, ./.env fills the gaps as at start.
    env = load_environment(environ, None if environ is not None else ".env")
    _register_secrets(env)
    failures = 0
    for result in run_checks(env, "http" if args.http else "socket"):
        stream.write(result.line() + "\n")
        stream.flush()
        failures += not result.ok
    if failures:
        stream.write(f"{failures} check(s) failed: fix them and run `python -m bot check` again.\n")
        return EXIT_FAILED
    stream.write("All checks passed: start the bot with `python -m bot` (or `python -m bot --http`).\n")
    return EXIT_OK
