"""What every `deskbot` command shares: the Typer app and its groups, the consoles, settings,
logging, progress and problem reports.

The consoles print text as it is: no Rich markup, highlighting or emoji codes, so a user's
"[redacted password]" or "[bold]" is shown, not interpreted; styles are passed as `style=`.
Text that came from users goes through `plain` as well, so control characters cannot move
the cursor or colour the terminal."""

from __future__ import annotations

import logging
import re

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.settings import Settings
from retrieval.loader import Problem, Severity

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold user text
    help="deskbot: the IT self-service assistant.",
)
kb_app = typer.Typer(no_args_is_help=True, help="Manage the knowledge base.")
app.add_typer(kb_app, name="kb")
out = Console(markup=False, highlight=False, emoji=False)
err = Console(stderr=True, markup=False, highlight=False, emoji=False)
# C0 controls but tab and newline, DEL and C1: what could drive a terminal
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: object) -> str:
    """Text from users or files, safe to print: control characters shown as \\xNN."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def settings() -> Settings:
    """The settings, or one line per wrong one and exit 2 (never a traceback: the values may
    be secrets, and the operator needs the name, not pydantic's internals)."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            message = str(error["msg"]).removeprefix("Value error, ")
            name = ".".join(str(part) for part in error["loc"])
            if name and name not in message:
                message = f"{name}: {message}"
            fail_line(message)
        raise typer.Exit(2) from None


def fail_line(message: str) -> None:
    """One line for the operator on stderr, printed as is (URLs, names and values are neither
    wrapped nor read as markup)."""
    err.print(message, soft_wrap=True, highlight=False, markup=False)


def setup_logging(level: int = logging.WARNING) -> None:
    from bot.redaction import install_log_redaction

    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "sentence_transformers", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    install_log_redaction()


def embedding_progress(label: str) -> tuple[Progress, object]:
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = progress.add_task(label, total=None)

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return progress, advance


def report_problems(problems: list[Problem]) -> None:
    for problem in problems:
        style = "red" if problem.severity is Severity.ERROR else "yellow"
        err.print(plain(problem), style=style, soft_wrap=True)
