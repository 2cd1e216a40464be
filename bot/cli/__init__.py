"""The `deskbot` command line: one module per group of commands, all on the one Typer app of
`common`. The console script is `deskbot = "bot.cli:main"`."""

from __future__ import annotations

import sys

from bot.cli import evaluate, itsm, kb, migrate, run, users  # noqa: F401 - they register commands
from bot.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
