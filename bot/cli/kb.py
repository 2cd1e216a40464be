"""`deskbot kb import`, `deskbot kb check` and `deskbot kb calibrate`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot import demo_data
from bot.cli.common import (
    embedding_progress,
    err,
    kb_app,
    out,
    plain,
    report_problems,
    settings,
    setup_logging,
)
from bot.settings import Settings
from retrieval.loader import LoadResult, Problem, Severity, lifecycle_problems

if TYPE_CHECKING:
    from retrieval.evaluation import LabeledQuery


@kb_app.command("import")
def kb_import(
    path: Annotated[Path, typer.Argument(help="A folder of Markdown articles or a JSONL file.")],
) -> None:
    """Import articles (added, edited or retired); nothing is imported if any file has an error."""
    from bot import wiring  # here: the commands that need no model start without it

    setup_logging()
    config = settings()
    today = date.today()
    result = demo_data.load_articles(path, today)
    report_problems(result.problems)
    if not result.ok:
        err.print(f"{len(result.errors)} error(s): nothing was imported.", style="red")
        raise typer.Exit(1)
    engine = wiring.database(config)
    kb = wiring.knowledge_base(config, engine)
    progress, advance = embedding_progress("embedding")
    with progress:
        kb.load(progress=advance)  # type: ignore[arg-type]
        report = kb.import_articles(result.articles, progress=advance)  # type: ignore[arg-type]
    report_problems(lifecycle_problems(result.articles, today))
    for article_id in report.conflicts:
        err.print(
            f"conflict: {article_id}: changed in the console and in its file since the "
            "last import; the console version is kept (edit it in the console, or roll it "
            "back there to the imported version)",
            style="yellow",
        )
    kept = len(report.kept) + len(report.conflicts)
    out.print(
        f"imported {len(result.articles)} article(s): {len(report.added)} added, "
        f"{len(report.updated)} updated ({len(report.retired)} retired), "
        f"{len(report.unchanged)} unchanged"
        + (f", {kept} kept as changed in the console" if kept else "")
    )


@kb_app.command("check")
def kb_check(
    path: Annotated[Path | None, typer.Argument(help="Default: DESKBOT_KB_PATH.")] = None,
    duplicates: Annotated[
        float, typer.Option(help="Similarity above which two articles are near-duplicates.")
    ] = 0.9,
    near_duplicates: Annotated[
        bool,
        typer.Option(
            "--near-duplicates/--no-near-duplicates",
            help="Compare the articles' meaning (needs the model for articles not yet embedded).",
        ),
    ] = True,
) -> None:
    """Validate articles without importing them: errors, review dates, near-duplicates."""
    setup_logging()
    config = settings()
    target = path or config.kb_path
    today = date.today()
    result = demo_data.load_articles(target, today)
    problems = [*result.problems, *lifecycle_problems(result.articles, today)]
    if near_duplicates and result.ok and result.articles:
        problems += near_duplicate_warnings(config, result, duplicates)
    report_problems(problems)
    errors = sum(p.severity is Severity.ERROR for p in problems)
    warnings = len(problems) - errors
    out.print(
        f"{plain(target)}: {len(result.articles)} article(s), {errors} error(s), {warnings} warning(s)"
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


def warn_if_one_sided(queries: list[LabeledQuery], name: str) -> None:
    """A calibration file without questions that no article answers teaches the confidence
    nothing about refusing: say so."""
    unanswerable = sum(not q.answerable for q in queries)
    if unanswerable < max(5, len(queries) // 20):
        err.print(
            f"{plain(name)}: only {unanswerable} of {len(queries)} questions have no answering "
            "article; add unanswerable questions or the threshold cannot learn to refuse.",
            style="yellow",
        )


@kb_app.command("calibrate")
def kb_calibrate(
    queries_file: Annotated[
        Path, typer.Argument(help="Labeled JSONL: {query, relevant_ids} for this knowledge base.")
    ],
    target_precision: Annotated[
        float | None, typer.Option(min=0.5, max=1.0, help="Default: DESKBOT_TARGET_PRECISION.")
    ] = None,
    write: Annotated[
        Path | None, typer.Option(help="Also write the calibration to this JSON file.")
    ] = None,
) -> None:
    """Fit the confidence calibration on labeled questions and store it for the running bot."""
    from bot import wiring
    from bot.evaluation import calibration_summary
    from retrieval.evaluation import QueryFileError, load_queries

    setup_logging()
    config = settings()
    try:
        queries = load_queries(queries_file)
    except QueryFileError as exc:
        err.print(plain(exc), style="red")
        raise typer.Exit(1) from None
    warn_if_one_sided(queries, str(queries_file))
    engine = wiring.database(config)
    kb = wiring.knowledge_base(config, engine)
    kb.load()
    from retrieval.evaluation import fit_calibration

    try:
        calibration = fit_calibration(
            kb, queries, target_precision or config.target_precision, source=str(queries_file)
        )
    except ValueError as exc:
        err.print(plain(exc), style="red")
        raise typer.Exit(1) from None
    kb.use_calibration(calibration, persist=True)
    if write is not None:
        write.write_text(calibration.to_json() + "\n", encoding="utf-8")
    out.print(f"stored: {calibration_summary(calibration)}; threshold {calibration.threshold:.3f}")
