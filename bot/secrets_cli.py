"""`python -m bot secrets`: list profiles and check one for completeness; never prints a value."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from bot.brokerages import registry
from bot.brokerages.base import BrokerageSettings
from bot.brokerages.errors import UnknownBrokerage
from bot.cli_args import CliParser, ParserExit
from bot.errors import BotError
from bot.secrets.config import SecretSettings, build_secret_store
from bot.secrets.errors import InvalidProfileName, SecretSettingsError
from bot.secrets.profiles import CredentialProfiles
from bot.secrets.redaction import install_redaction

EXIT_OK = 0
EXIT_INCOMPLETE = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="python -m bot secrets",
        description="Inspect credential profiles in the configured secret store. Values are never printed.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CliParser)
    listing = commands.add_parser("list", help="list profile names per brokerage")
    listing.add_argument("--brokerage", metavar="ID", help="only this QuantConnect brokerage id")
    check = commands.add_parser("check", help="show which credential fields of a profile are set or missing")
    check.add_argument("profile", help="profile name, e.g. ib-main")
    check.add_argument("--model", metavar="KEY", help="settings model, e.g. BinanceUSSettings (default: all)")
    return parser


def _models_label(brokerage_id: str) -> str:
    models = registry.models_for_brokerage_id(brokerage_id)
    return ", ".join(model.display_name for model in models) if models else "unknown to this bot"


def _complete_models(profiles: CredentialProfiles, profile: str, brokerage_id: str) -> list[str]:
    return [
        model.display_name
        for model in registry.models_for_brokerage_id(brokerage_id)
        if not profiles.missing_fields(profile, model)
    ]


def _run_list(profiles: CredentialProfiles, brokerage_id: str | None, out: TextIO) -> int:
    if brokerage_id is not None and not registry.models_for_brokerage_id(brokerage_id):
        known = sorted({model.brokerage_id for model in registry.all_models()})
        sys.stderr.write(f"Unknown brokerage id '{brokerage_id}'. Known ids: {', '.join(known)}.\n")
        return EXIT_INCOMPLETE
    grouped = profiles.profiles_by_brokerage()
    if brokerage_id is not None:
        grouped = {brokerage_id: grouped.get(brokerage_id, [])}
    if not any(grouped.values()):
        where = f" for {brokerage_id}" if brokerage_id else ""
        out.write(f"No credential profiles{where} in {profiles.store.name}.\n")
        return EXIT_OK
    for brokerage, names in grouped.items():
        out.write(f"{brokerage} ({_models_label(brokerage)})\n")
        for name in names:
            complete = _complete_models(profiles, name, brokerage)
            state = f"complete for {', '.join(complete)}" if complete else "incomplete"
            out.write(f"  {name}  [{state}]\n")
    return EXIT_OK


def _run_check(profiles: CredentialProfiles, profile: str, model_key: str | None, out: TextIO) -> int:
    brokerage = profiles.brokerage_of(profile)
    models: Sequence[type[BrokerageSettings]]
    if model_key is not None:
        models = [registry.get(model_key)]
    else:
        models = registry.models_for_brokerage_id(brokerage)
        if not models:
            out.write(f"Profile {profile}: brokerage '{brokerage}' is unknown to this bot.\n")
            return EXIT_INCOMPLETE
    out.write(f"Profile {profile}: {brokerage} (secret store: {profiles.store.name})\n")
    any_complete = False
    for model in models:
        statuses = profiles.field_status(profile, model)
        complete = all(status.is_set for status in statuses if status.required)
        any_complete = any_complete or complete
        out.write(f"{model.display_name} ({model.key}): {'complete' if complete else 'incomplete'}\n")
        width = max((len(status.name) for status in statuses), default=0)
        if not statuses:
            out.write("  (no credential fields)\n")
        for status in statuses:
            state = "set" if status.is_set else "missing" if status.required else "not set (optional)"
            out.write(f"  {status.name.ljust(width)}  {state}\n")
    return EXIT_OK if any_complete else EXIT_INCOMPLETE


def main(argv: list[str], environ: Mapping[str, str] | None = None) -> int:
    """Run `secrets list|check`: exit 0 complete, 1 incomplete/unknown/backend failure, 2 usage/settings."""
    install_redaction()
    env = dict(os.environ if environ is None else environ)
    if environ is None and "DOTENV_PATH" not in env and Path(".env").is_file():
        # Run by hand from the checkout: read the same .env file the bot reads at start-up.
        env["DOTENV_PATH"] = ".env"
    try:
        args = _parser().parse_args(argv)
    except ParserExit as exc:
        return exc.status
    out = sys.stdout
    try:
        store = build_secret_store(SecretSettings.from_env(env), environ=env)
    except SecretSettingsError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_USAGE
    except BotError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_INCOMPLETE
    profiles = CredentialProfiles(store)
    try:
        if args.command == "list":
            return _run_list(profiles, args.brokerage, out)
        return _run_check(profiles, args.profile, args.model, out)
    except (InvalidProfileName, UnknownBrokerage) as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_USAGE if isinstance(exc, InvalidProfileName) else EXIT_INCOMPLETE
    except BotError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_INCOMPLETE
