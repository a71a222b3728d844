"""An argparse parser for subcommands that returns exit codes to the caller instead of exiting the process."""

from __future__ import annotations

import argparse
import sys


class ParserExit(Exception):
    """Raised where argparse would exit; carries the exit status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class CliParser(argparse.ArgumentParser):
    """ArgumentParser that reports usage errors to the caller instead of exiting the process."""

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        """Write the message and raise ParserExit(status)."""
        if message:
            sys.stderr.write(message)
        raise ParserExit(status)
