"""The `deskbot` command line."""

from __future__ import annotations

import logging
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.settings import Settings
from retrieval.loader import LoadResult, Problem, Severity, lifecycle_problems, load_path

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


@kb_app.command("import")
def kb_import(
    path: Annotated[Path, typer.Argument(help="A folder of Markdown articles or a JSONL file.")],
) -> None:
    """Import articles (added, edited or retired); nothing is imported if any file has an error."""
    setup_logging()
    config = settings()
    result = load_path(path)
    report_problems(result.problems)
    if not result.ok:
        err.print(f"[red]{len(result.errors)} error(s): nothing was imported.[/red]")
        raise typer.Exit(1)
    from bot import wiring

    engine = wiring.database(config)
    kb = wiring.knowledge_base(config, engine)
    progress, advance = embedding_progress("embedding")
    with progress:
        kb.load(progress=advance)  # type: ignore[arg-type]
        report = kb.import_articles(result.articles, progress=advance)  # type: ignore[arg-type]
    report_problems(lifecycle_problems(result.articles, date.today()))
    out.print(
        f"imported {len(result.articles)} article(s): {len(report.added)} added, "
        f"{len(report.updated)} updated ({len(report.retired)} retired), "
        f"{len(report.unchanged)} unchanged"
    )


@kb_app.command("check")
def kb_check(
    path: Annotated[Path | None, typer.Argument(help="Default: DESKBOT_KB_PATH.")] = None,
    duplicates: Annotated[
        float, typer.Option(help="Similarity above which two articles are near-duplicates.")
    ] = 0.9,
) -> None:
    """Validate articles without importing them: errors, review dates, near-duplicates."""
    setup_logging()
    config = settings()
    target = path or config.kb_path
    result = load_path(target)
    problems = [*result.problems, *lifecycle_problems(result.articles, date.today())]
    if result.ok and result.articles:
        problems += near_duplicate_warnings(config, result, duplicates)
    report_problems(problems)
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    out.print(
        f"{target}: {len(result.articles)} article(s), {errors} error(s), {warnings} warning(s)"
    )
    if errors:
        raise typer.Exit(1)


def near_duplicate_warnings(
    config: Settings, result: LoadResult, threshold: float
) -> list[Problem]:
    """Embed the checked articles (in a scratch store; vectors are cached) and compare them."""
    from bot import wiring
    from bot.db import make_engine, migrate

    scratch = make_engine("sqlite://")
    migrate(scratch)
    kb = wiring.knowledge_base(config, wiring.database(config), store_engine=scratch)
    progress, advance = embedding_progress("embedding")
    with progress:
        kb.import_articles(result.articles, progress=advance)  # type: ignore[arg-type]
    sources = {a.id: a.source for a in result.articles}
    return [
        Problem(
            sources[a],
            f"near-duplicate of '{b}' (similarity {sim:.2f})",
            severity=Severity.WARNING,
            article_id=a,
        )
        for a, b, sim in kb.near_duplicates(threshold)
    ]


@app.command("migrate")
def migrate_command() -> None:
    """Bring the database schema up to date (safe when several replicas run it at once)."""
    setup_logging()
    from functools import partial

    from sqlalchemy.exc import ArgumentError, OperationalError

    from bot.db import SchemaState, make_engine, migrate

    # printed as is: URLs and revision ids are neither wrapped nor highlighted
    say = partial(out.print, soft_wrap=True, highlight=False, markup=False)
    warn = partial(err.print, soft_wrap=True, highlight=False, markup=False)
    try:
        engine = make_engine(settings().database_url)
    except (ArgumentError, ValueError) as exc:
        warn(f"DESKBOT_DATABASE_URL is not a valid database URL: {exc}")
        raise typer.Exit(2) from None
    shown = engine.url.render_as_string(hide_password=True)
    try:
        done = migrate(engine)
    except OperationalError as exc:
        warn(f"cannot reach the database {shown}: {str(exc.orig or exc).strip().splitlines()[0]}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if done.waited:
        say("another process was migrating: waited for it to finish")
    if done.before.state is SchemaState.AHEAD:
        warn(f"{shown}: nothing migrated, {done.before.describe()}")
        return
    before = ", ".join(done.before.database) or "an empty database"
    outcome = f"migrated from {before} to" if done.applied else "nothing to do, already at"
    say(f"{shown}: {outcome} {', '.join(done.after.database)}")


def main() -> None:
    from bot import cli_console, cli_eval, cli_run  # noqa: F401 - they register their commands

    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
