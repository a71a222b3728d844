"""Credential values reach live/create exactly as stored, from every secret backend.

A password with a trailing space that is "helpfully" trimmed fails the brokerage login, and a few failed
logins can lock the account. Each backend below holds the same profile whose values begin and end with spaces
and tabs and carry non-ASCII letters (plus `$` and `#` for the .env quoting); the live/create body the fake
QuantConnect received must hold them unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.secrets.env_store import env_name
from bot.secrets.keys import BROKERAGE_FIELD, profile_key
from tests.fakes.fake_vault import running_vault
from tests.support.bot import BotHarness, running_bot
from tests.support.examples import profile_name
from tests.support.flows import ask_for_model
from tests.support.waiting import eventually

MODEL = "InteractiveBrokersSettings"
PROFILE = profile_name(MODEL)
BROKERAGE_ID = "InteractiveBrokersBrokerage"
CREDENTIALS = {
    "ib-user-name": " \tjoé trader\t ",
    "ib-password": "  pässwörd $HOME #1\t",
    "ib-account": "\tDU1234567 ",
}
VAULT_TOKEN = "hvs.test-token-credentials-exact"


def _flat(root: Path) -> None:
    keys = {BROKERAGE_FIELD: BROKERAGE_ID, **CREDENTIALS}
    for field, value in keys.items():
        # One final newline, as `echo` writes it: removed; the tab before it is part of the value.
        (root / f"profiles.{PROFILE}.{field}").write_text(value + "\n", encoding="utf-8")


def _nested(root: Path) -> None:
    folder = root / "profiles" / PROFILE
    folder.mkdir(parents=True)
    for field, value in {BROKERAGE_FIELD: BROKERAGE_ID, **CREDENTIALS}.items():
        (folder / field).write_text(value + "\r\n", encoding="utf-8")


def _dotenv(path: Path) -> None:
    lines = [f"{env_name(profile_key(PROFILE, BROKERAGE_FIELD))}={BROKERAGE_ID}"]
    # Single quotes, as docs/secrets.md says: spaces, tabs, `$` and `#` are then literal.
    lines += [f"{env_name(profile_key(PROFILE, field))}='{value}'" for field, value in CREDENTIALS.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextmanager
def _bot_with_profile_in(backend: str, tmp_path: Path) -> Iterator[BotHarness]:
    """A running bot whose only copy of the profile lives in `backend`."""
    if backend == "env":
        with running_bot(tmp_path, profiles={PROFILE: (BROKERAGE_ID, CREDENTIALS)}) as bot:
            yield bot
        return
    if backend == "dotenv":
        _dotenv(tmp_path / "secrets.env")
        with running_bot(tmp_path, env={"DOTENV_PATH": str(tmp_path / "secrets.env")}) as bot:
            yield bot
        return
    if backend in ("dir-flat", "dir-nested"):
        root = tmp_path / "run-secrets"
        root.mkdir()
        (_flat if backend == "dir-flat" else _nested)(root)
        with running_bot(tmp_path, env={"SECRET_BACKENDS": "env,dir", "SECRETS_DIR": str(root)}) as bot:
            yield bot
        return
    with running_vault() as vault:
        vault.add_token(VAULT_TOKEN)
        vault.put(f"qc-bot/profiles/{PROFILE}", {BROKERAGE_FIELD: BROKERAGE_ID, **CREDENTIALS})
        env = {"SECRET_BACKENDS": "env,vault", "VAULT_ADDR": vault.url, "VAULT_TOKEN": VAULT_TOKEN}
        with running_bot(tmp_path, env=env) as bot:
            yield bot


@pytest.mark.parametrize("backend", ["env", "dotenv", "dir-flat", "dir-nested", "vault"])
def test_credentials_reach_live_create_byte_for_byte(backend: str, tmp_path: Path) -> None:
    with _bot_with_profile_in(backend, tmp_path) as bot:
        request = ask_for_model(bot, MODEL, project=f"Exact {backend}")
        assert request.is_paper, "IB paper deploys at once, so the body goes out without an approval"
        call = eventually(lambda: bot.qc.calls_to("live/create"), what="live/create")[0]
        sent = call.body["brokerage"]
        for field, value in CREDENTIALS.items():
            assert sent[field] == value, f"{field} from {backend} was altered before sending"
            assert sent[field].encode() == value.encode()
        slack_text = bot.slack.all_text()
        assert not [value for value in CREDENTIALS.values() if value.strip() in slack_text]
