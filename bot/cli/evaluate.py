"""`deskbot eval` and `deskbot gaps`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot import demo_data
from bot.cli.common import (
    app,
    embedding_progress,
    err,
    out,
    plain,
    report_problems,
    settings,
    setup_logging,
)

if TYPE_CHECKING:
    from bot.evaluation import Report


@app.command("eval")
def eval_command(
    queries_file: Annotated[
        Path | None,
        typer.Option(
            "--queries",
            help="Labeled JSONL: {query, relevant_ids} (default: DESKBOT_QUESTIONS_PATH, the demo "
            "questions out of the box; needed with --kb).",
        ),
    ] = None,
    kb_path: Annotated[
        Path | None,
        typer.Option("--kb", help="Articles to evaluate (default: the configured knowledge base)."),
    ] = None,
    calibrate: Annotated[
        Path | None, typer.Option(help="Fit the confidence calibration on this labeled file first.")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write one decision per query (JSONL).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    leave_out_share: Annotated[
        float,
        typer.Option(
            "--leave-out",
            min=0.0,
            max=0.9,
            help="Remove this share of articles at random; their queries become unanswerable.",
        ),
    ] = 0.0,
    folds: Annotated[
        int,
        typer.Option(
            min=0,
            help="Cross-validate the calibration over this many folds of the queries (grouped by article).",
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed for --leave-out and --folds.")] = 0,
    target_precision: Annotated[
        float | None, typer.Option(min=0.5, max=1.0, help="Default: DESKBOT_TARGET_PRECISION.")
    ] = None,
    curve: Annotated[
        Path | None,
        typer.Option(help="Write the risk-coverage curve here (PNG, plus the same name .json)."),
    ] = None,
) -> None:
    """Measure retrieval and the answer/hand-off decisions on a labeled query file."""
    # imported here, so that `deskbot --help` and the commands without a model start quickly
    from bot import wiring
    from bot.cli.kb import warn_if_one_sided
    from bot.db import make_engine, migrate
    from bot.evaluation import decision_lines, evaluate, write_curve
    from flows.router import Router
    from retrieval.evaluation import QueryFileError, leave_out, load_queries, unknown_ids, without

    setup_logging()
    config = settings()
    target = target_precision or config.target_precision
    if queries_file is None:
        if kb_path is not None:
            err.print("--queries is needed with --kb: the labeled questions for those articles.")
            raise typer.Exit(2)
        queries_file = config.questions_path  # the labeled questions of the configured articles
    try:
        queries = load_queries(queries_file)
        calibration_queries = load_queries(calibrate) if calibrate else None
    except QueryFileError as exc:
        err.print(plain(exc), style="red")
        raise typer.Exit(1) from None

    engine = wiring.database(config)
    embedder = wiring.embedder(config)
    if kb_path is not None:
        loaded = demo_data.load_articles(kb_path, date.today())
        if not loaded.ok:
            report_problems(loaded.errors)
            raise typer.Exit(1)
        articles = loaded.articles
        scratch = make_engine("sqlite://")
        migrate(scratch)
        kb = wiring.knowledge_base(config, engine, embedder, store_engine=scratch)
    else:
        configured = wiring.knowledge_base(config, engine, embedder)
        configured.load()
        articles = configured.articles()
        if not articles:  # a fresh database: the configured articles are still on disk
            loaded = demo_data.load_articles(config.kb_path, date.today())
            if not loaded.ok:
                report_problems(loaded.errors)
                raise typer.Exit(1)
            articles = loaded.articles
            if not articles:
                err.print(f"No articles in {plain(config.kb_path)} (DESKBOT_KB_PATH).", style="red")
                raise typer.Exit(1)
            err.print(
                f"Nothing imported yet: evaluating the articles in {plain(config.kb_path)} "
                "(DESKBOT_KB_PATH).",
                soft_wrap=True,
            )
        # evaluate on a scratch copy, so leaving articles out never touches the real store
        scratch = make_engine("sqlite://")
        migrate(scratch)
        kb = wiring.knowledge_base(config, engine, embedder, store_engine=scratch)
        kb.use_calibration(configured.calibration)

    removed: set[str] = set()
    if leave_out_share > 0:
        articles, removed = leave_out(articles, leave_out_share, seed)
        queries = without(queries, removed)
        if calibration_queries is not None:
            calibration_queries = without(calibration_queries, removed)
    if calibration_queries is not None:
        warn_if_one_sided(calibration_queries, "--calibrate")
    missing = unknown_ids(queries, articles) - removed
    if missing:
        err.print(
            plain(
                f"{len(missing)} relevant id(s) are not in the knowledge base, e.g. {sorted(missing)[:3]}"
            ),
            style="yellow",
        )

    progress, advance = embedding_progress("embedding")
    with progress:
        kb.import_articles(articles, progress=advance)  # type: ignore[arg-type]
    kb.use_calibration(kb.calibration.for_target(target))
    report, decided = evaluate(
        kb,
        Router.from_file(embedder, cache=wiring.training_cache(config)),
        queries,
        calibrate_on=calibration_queries,
        folds=folds,
        seed=seed,
        target_precision=target,
    )
    report.left_out = sorted(removed)
    if out_file is not None:
        out_file.write_text("\n".join(decision_lines(queries, decided)) + "\n", encoding="utf-8")
    if curve is not None:
        write_curve(report.curve, curve, target)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
        return
    print_report(report)


def print_report(report: Report) -> None:
    out.print(
        f"{report.queries} queries"
        + (f", {len(report.left_out)} articles left out" if report.left_out else ""),
        style="bold",
    )
    out.print("retriever   P@1     R@3     MRR")
    for name, m in report.retrievers.items():
        out.print(f"{name:<10} {m.p_at_1:6.3f}  {m.r_at_3:6.3f}  {m.mrr:6.3f}")
    s = report.at_threshold
    out.print(f"calibration: {report.calibration_source}; {report.calibration_model}")
    out.print(
        f"threshold {report.threshold:.3f} (target precision {report.target_precision:.3f}; "
        f"on this file the target is met from {report.threshold_for_target:.3f})"
    )
    out.print(f"coverage (answerable answered correctly) {s.coverage:.3f} of {s.answerable}")
    out.print(f"wrong answers among answered             {s.wrong_rate:.3f} of {s.answered}")
    out.print(f"false accepts (unanswerable answered)    {s.false_accept:.3f} of {s.unanswerable}")
    out.print(f"expected calibration error               {report.calibration_error:.3f}")
    out.print(f"decisions {report.decisions}; intents {report.intents}")


@app.command("gaps")
def gaps_command(
    similarity: Annotated[
        float,
        typer.Option(min=0.3, max=0.99, help="How alike two questions must be to share a cluster."),
    ] = 0.7,
    limit: Annotated[int, typer.Option(min=1, help="Clusters to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Questions the assistant could not answer (or answered unhelpfully), clustered by meaning,
    biggest first, with the nearest article."""
    from bot import wiring
    from retrieval.gaps import GapStore, StoredQuestions, cluster

    setup_logging()
    config = settings()
    engine = wiring.database(config)
    kb = wiring.knowledge_base(config, engine)
    kb.load()
    # the questions' vectors were stored with the gaps: the model loads only for older ones
    questions = StoredQuestions(GapStore(engine), kb.embedder)
    clusters = cluster(GapStore(engine).gaps(), questions, similarity)[:limit]
    rows: list[dict[str, Any]] = []
    for c in clusters:
        nearest = kb.nearest(c.examples[0], vector=questions.encode(c.examples[:1])[0])
        top = nearest.top
        rows.append(
            {
                "size": c.size,
                "examples": c.examples,
                "reasons": sorted({g.reason for g in c.gaps}),
                "last_seen": c.last_seen.isoformat(),
                "nearest_article": top.id if top else None,
                "nearest_title": top.title if top else None,
                "confidence": round(nearest.confidence, 3),
            }
        )
    if as_json:
        out.print_json(json.dumps(rows))
        return
    if not rows:
        out.print("No unanswered questions recorded.")
        return
    for row in rows:
        nearest_text = (
            f"{row['nearest_title']} ({row['nearest_article']}, confidence {row['confidence']:.2f})"
            if row["nearest_article"]
            else "none"
        )
        out.print(f"{row['size']}×", style="bold", end=" ")
        out.print(plain(row["examples"][0]), soft_wrap=True)
        for example in row["examples"][1:]:
            out.print(f"     {plain(example)}", soft_wrap=True)
        out.print(
            f"     reasons: {', '.join(row['reasons'])}; nearest article: {plain(nearest_text)}",
            soft_wrap=True,
        )
