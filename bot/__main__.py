"""`python -m bot`: serve (Socket Mode by default, --http for HTTP mode), or `secrets` to inspect profiles."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
from types import FrameType

USAGE = """\
python -m bot                 run the bot in Socket Mode (needs SLACK_APP_TOKEN; no public URL)
python -m bot --http          run the bot in HTTP mode: POST /slack/events, GET /healthz on $PORT
python -m bot check           check settings, Slack, QuantConnect, the database and every credential profile
python -m bot secrets ...     list credential profiles and check one (never prints a value)
python -m bot audit --since YYYY-MM-DD [--until ...] [--project ID] [--format csv|json] [--output FILE]
                              export the audit trail
"""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM (what process managers send) and SIGINT into a clean shutdown."""
    raise KeyboardInterrupt


def freeze_startup_heap() -> None:
    """Leave what startup built (modules, settings, the app and its listeners) out of garbage collection.

    None of it ever becomes garbage, yet every full collection scanned all of it: about 100 ms with every
    thread stopped, added to each acknowledgement in flight (bench/README.md, acknowledgement latency).
    """
    gc.collect()
    gc.freeze()


def serve(argv: list[str]) -> int:
    """Start the bot in the chosen mode; exit 2 with every configuration problem listed."""
    parser = argparse.ArgumentParser(prog="python -m bot", usage=USAGE)
    parser.add_argument("--http", action="store_true", help="HTTP mode instead of Socket Mode")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default $PORT or 3000)")
    args = parser.parse_args(argv)

    from bot.config import ConfigError, Settings
    from bot.errors import BotError
    from bot.logging_setup import configure_logging
    from bot.runtime import BotRuntime, serve_http, serve_socket_mode

    try:
        settings = Settings.from_env(mode="http" if args.http else "socket")
    except ConfigError as exc:
        print(exc.user_message, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    signal.signal(signal.SIGTERM, _interrupt)
    # Set explicitly: a process started with SIGINT ignored (a shell's background job) gets no handler from
    # Python, and Ctrl-C or `kill -INT` would be ignored.
    signal.signal(signal.SIGINT, _interrupt)
    try:
        runtime = BotRuntime.create(settings)
    except BotError as exc:
        print(f"The bot cannot start: {exc.user_message}", file=sys.stderr)
        return 2
    freeze_startup_heap()
    try:
        if args.http:
            serve_http(runtime, port=args.port)
        else:
            serve_socket_mode(runtime)
    except KeyboardInterrupt:
        pass
    except BotError as exc:
        # Slack refused SLACK_APP_TOKEN: say why and stop, rather than retry what cannot succeed.
        print(f"The bot cannot start: {exc.user_message}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand or serve."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "secrets":
        from bot.secrets_cli import main as secrets_main

        return secrets_main(args[1:])
    if args and args[0] == "check":
        from bot.doctor import main as doctor_main

        return doctor_main(args[1:])
    if args and args[0] == "audit":
        from bot.audit_export import main as audit_main

        return audit_main(args[1:])
    if args and args[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return 0
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
