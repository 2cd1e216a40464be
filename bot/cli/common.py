"""What every `deskbot` command shares: the Typer app and its groups, the consoles, settings,
logging, progress and problem reports."""

from __future__ import annotations

import logging

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
out = Console()
err = Console(stderr=True)


def settings() -> Settings:
    return Settings()


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
        err.print(f"[{style}]{problem}[/{style}]", highlight=False, markup=True, soft_wrap=True)
