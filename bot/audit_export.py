"""`python -m bot audit`: the audit trail exported as CSV or JSON (lines for Slack: bot/blocks/audit.py).

Only DATABASE_URL is needed to export, so an auditor can run it without any Slack or QuantConnect setting.
Events are append-only and numbered in the order they were written, so the export follows that order.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa

from bot.cli_args import CliParser, ParserExit
from bot.secrets.masking import redact_data
from bot.store import Store
from bot.store.models import AuditEvent

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
CSV_COLUMNS = ("id", "at", "actor", "action", "request_id", "project_id", "detail")


# -- export ------------------------------------------------------------------------------------------


def event_record(event: AuditEvent) -> dict[str, Any]:
    """An event as plain JSON-ready values, secrets masked."""
    record = {
        "id": event.id,
        "at": event.at.astimezone(UTC).isoformat(),
        "actor": event.actor,
        "action": event.action,
        "request_id": event.request_id,
        "project_id": event.project_id,
        "detail": event.detail,
    }
    masked: dict[str, Any] = redact_data(record)
    return masked


def write_csv(events: Iterator[AuditEvent], out: TextIO) -> int:
    """Write events as CSV (detail as a JSON column); returns how many."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for event in events:
        record = event_record(event)
        record["detail"] = json.dumps(record["detail"], ensure_ascii=False, sort_keys=True, default=str)
        writer.writerow(record)
        count += 1
    return count


def write_json(events: Iterator[AuditEvent], out: TextIO) -> int:
    """Write events as one JSON array, one event per line; returns how many."""
    count = 0
    out.write("[")
    for event in events:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(event_record(event), ensure_ascii=False, default=str))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


# -- command line --------------------------------------------------------------------------------------------


def parse_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """A date (YYYY-MM-DD) or ISO date-time; without a zone it is UTC. A bare `until` date covers that day."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD or an ISO time such as 2026-11-01T09:30:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="python -m bot audit",
        description="Export the audit trail (who asked, approved, rejected, every status and error, who "
        "stopped or liquidated) from DATABASE_URL, oldest first. Times are UTC.",
    )
    parser.add_argument("--since", required=True, help="first day or time to include, e.g. 2026-11-01")
    parser.add_argument("--until", help="last day to include (a date covers the whole day), or an ISO time")
    parser.add_argument("--project", type=int, metavar="ID", help="only this QuantConnect project id")
    parser.add_argument("--request", metavar="ID", help="only this request id, e.g. r-7f3a9c2b")
    parser.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="output format (default csv)"
    )
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the export; exit 0 on success, 1 when the database cannot be read, 2 on a usage error."""
    from bot.config import DEFAULT_DATABASE_URL, load_environment

    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        since = parse_moment(args.since)
        until = parse_moment(args.until, end_of_day=True) if args.until else None
    except ParserExit as exc:
        return exc.status
    except argparse.ArgumentTypeError as exc:
        print(f"python -m bot audit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if until is not None and until <= since:
        print("python -m bot audit: --until must be after --since", file=sys.stderr)
        return EXIT_USAGE
    # A given environment (tests, embedding) is taken as complete; by hand, ./.env fills the gaps.
    env = load_environment(environ, None if environ is not None else ".env")
    _know_secrets(env)
    url = env.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    try:
        store = Store(url, migrate=False)
    except sa.exc.SQLAlchemyError as exc:
        print(f"DATABASE_URL is not a usable database URL ({type(exc).__name__}).", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _export(store, args, since, until)
    except sa.exc.SQLAlchemyError as exc:
        # The URL may carry a password: name the failure's kind, never the URL.
        print(f"Could not read the audit trail from DATABASE_URL ({type(exc).__name__}).", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.dispose()


def _know_secrets(env: Mapping[str, str]) -> None:
    """Load the configured secret store's values so the export masks them, when it can be reached.

    Events are masked when they are written; this covers rows written before a value was known. The
    export itself needs only DATABASE_URL, so a secret store that cannot be read is a note, not a failure.
    """
    from bot.secrets import SecretError, SecretSettings, build_secret_store
    from bot.secrets.store import load_every_secret

    try:
        load_every_secret(build_secret_store(SecretSettings.from_env(env), env))
    except SecretError as exc:
        print(
            f"python -m bot audit: secret values not loaded ({exc}); events are exported as they were "
            "stored (masked when written).",
            file=sys.stderr,
        )


def _export(store: Store, args: argparse.Namespace, since: datetime, until: datetime | None) -> int:
    """Write the matching events where asked; 1 when the database has no current schema."""
    if not store.schema_current():
        print(
            "The database in DATABASE_URL is unreachable or has no current bot schema; "
            "check the URL, or start the bot once to create the schema.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    events = store.iter_events(since=since, until=until, project_id=args.project, request_id=args.request)
    write = write_csv if args.format == "csv" else write_json
    if args.output:
        with Path(args.output).open("w", encoding="utf-8", newline="") as out:
            count = write(events, out)
        print(f"Wrote {count} audit events to {args.output}.", file=sys.stderr)
    else:
        write(events, sys.stdout)
    return EXIT_OK
