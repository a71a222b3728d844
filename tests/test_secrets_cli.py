"""`python -m bot secrets` command body: list and check output, exit codes, never a value."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.secrets_cli import main
from tests.fakes.fake_vault import FakeVault, running_vault

ENVIRON = {
    "QCBOT_PROFILES__IB_MAIN__BROKERAGE": "InteractiveBrokersBrokerage",
    "QCBOT_PROFILES__IB_MAIN__IB_USER_NAME": "cli-user-name",
    "QCBOT_PROFILES__IB_MAIN__IB_PASSWORD": "cli-pass-0001",
    "QCBOT_PROFILES__BINANCE_MAIN__BROKERAGE": "BinanceBrokerage",
    "QCBOT_PROFILES__BINANCE_MAIN__BINANCE_API_KEY": "cli-bn-key-0001",
    "QCBOT_PROFILES__BINANCE_MAIN__BINANCE_API_SECRET": "cli-bn-secret-0001",
    "QCBOT_PROFILES__COINBASE_MAIN__BROKERAGE": "CoinbaseBrokerage",
    "QCBOT_PROFILES__COINBASE_MAIN__COINBASE_API_KEY": "cli-cb-key-0001",
    "QCBOT_PROFILES__COINBASE_MAIN__COINBASE_API_SECRET": "cli-cb-secret-0001",
}
VALUES = [value for name, value in ENVIRON.items() if not name.endswith("BROKERAGE")]


def _run(
    capsys: pytest.CaptureFixture[str], argv: list[str], environ: dict[str, str]
) -> tuple[int, str, str]:
    code = main(argv, environ=environ)
    captured = capsys.readouterr()
    for value in VALUES:
        assert value not in captured.out + captured.err
    return code, captured.out, captured.err


def _states(out: str) -> dict[str, str]:
    states: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("  "):
            name, _, state = line.strip().partition("  ")
            states[name] = state.strip()
    return states


def test_check_incomplete_profile_prints_set_and_missing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, ["check", "ib-main"], ENVIRON)
    assert code == 1
    assert "Interactive Brokers" in out and "incomplete" in out
    assert _states(out) == {"ib-user-name": "set", "ib-password": "set", "ib-account": "missing"}


def test_check_complete_profile_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {**ENVIRON, "QCBOT_PROFILES__IB_MAIN__IB_ACCOUNT": "DU0000001"}
    code, out, _ = _run(capsys, ["check", "ib-main"], environ)
    assert code == 0
    assert _states(out)["ib-account"] == "set"
    assert "DU0000001" not in out


def test_check_shows_optional_fields_as_optional(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, ["check", "coinbase-main"], ENVIRON)
    assert code == 0
    assert _states(out)["coinbase-api-name"] == "not set (optional)"


def test_binance_profile_against_every_model_and_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, ["check", "binance-main"], ENVIRON)
    assert code == 0  # complete for at least one Binance model
    assert "BinanceUSSettings): incomplete" in out
    assert "BinanceSettings): complete" in out
    code, out, _ = _run(capsys, ["check", "binance-main", "--model", "BinanceUSSettings"], ENVIRON)
    assert code == 1
    assert _states(out) == {"binanceus-api-key": "missing", "binanceus-api-secret": "missing"}


def test_check_errors_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, ["check", "nobody"], ENVIRON)
    assert (code, "'nobody' was not found" in err) == (1, True)
    code, _, err = _run(capsys, ["check", "ib-main", "--model", "BinanceSettings"], ENVIRON)
    assert code == 1 and "is for InteractiveBrokersBrokerage, not BinanceBrokerage" in err
    code, _, err = _run(capsys, ["check", "ib-main", "--model", "NoSuchSettings"], ENVIRON)
    assert code == 1 and "NoSuchSettings" in err
    code, _, err = _run(capsys, ["check", "IB_Main"], ENVIRON)
    assert code == 2 and "not valid" in err
    code, _, _ = _run(capsys, ["frobnicate"], ENVIRON)
    assert code == 2
    code, _, _ = _run(capsys, [], ENVIRON)
    assert code == 2
    code, _, err = _run(capsys, ["list"], {**ENVIRON, "SECRET_BACKENDS": "env,nope"})
    assert code == 2 and "unknown backend 'nope'" in err


def test_list_groups_profiles_per_brokerage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, ["list"], ENVIRON)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("BinanceBrokerage (Binance")
    assert "  binance-main  [complete for Binance, " in out
    assert "  ib-main  [incomplete]" in out
    code, out, _ = _run(capsys, ["list", "--brokerage", "InteractiveBrokersBrokerage"], ENVIRON)
    assert code == 0
    assert "binance-main" not in out and "ib-main" in out
    code, out, _ = _run(capsys, ["list", "--brokerage", "KrakenBrokerage"], ENVIRON)
    assert code == 0 and "No credential profiles for KrakenBrokerage" in out
    code, _, err = _run(capsys, ["list", "--brokerage", "Nope"], ENVIRON)
    assert code == 1 and "Unknown brokerage id 'Nope'" in err


def test_list_from_a_secrets_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "profiles.tradier-paper.brokerage").write_text("TradierBrokerage\n")
    environ = {"SECRET_BACKENDS": "dir", "SECRETS_DIR": str(tmp_path)}
    code, out, _ = _run(capsys, ["list"], environ)
    assert code == 0 and "  tradier-paper  [incomplete]" in out


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    with running_vault() as server:
        server.put(
            "qc-bot/profiles/ib-vault", {"brokerage": "InteractiveBrokersBrokerage", "ib-password": "v-1"}
        )
        server.add_token("cli-token", paths=("qc-bot/",))
        yield server


def test_vault_backed_check_and_denial(vault: FakeVault, capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"SECRET_BACKENDS": "vault", "VAULT_ADDR": vault.url, "VAULT_TOKEN": "cli-token"}
    code, out, _ = _run(capsys, ["check", "ib-vault"], environ)
    assert code == 1
    assert _states(out)["ib-password"] == "set"
    code, _, err = _run(capsys, ["check", "ib-vault"], {**environ, "VAULT_TOKEN": "wrong-token"})
    assert code == 1 and "permission denied" in err and "wrong-token" not in err


def test_the_documented_dotenv_example_gives_complete_profiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "secrets.md").read_text(encoding="utf-8")
    block = docs.split("```dotenv\n", 1)[1].split("```", 1)[0]
    dotenv = tmp_path / ".env"
    dotenv.write_text(block, encoding="utf-8")
    environ = {"DOTENV_PATH": str(dotenv)}
    assert main(["check", "ib-main"], environ=environ) == 0
    assert main(["check", "binance-testnet", "--model", "BinanceFuturesUSDMSettings"], environ=environ) == 0
    out = capsys.readouterr().out
    assert "c0rrect horse$battery" not in out
    assert "ib-password   set" in out
