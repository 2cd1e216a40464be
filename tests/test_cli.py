"""The command line end to end: kb import -> kb check -> eval -> gaps, through Typer's runner
on a real SQLite file. Marked slow: the commands load the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

DATA = Path(__file__).parent / "data"
runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DESKBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_bad_file_is_reported_and_nothing_imported(env: Path) -> None:
    bad = env / "kb"
    bad.mkdir()
    (bad / "good.md").write_text((DATA / "kb_small" / "vpn.md").read_text())
    (bad / "broken.md").write_text(
        (DATA / "kb_small" / "printer.md")
        .read_text()
        .replace("status: validated", "status: approved")
    )
    result = runner.invoke(app, ["kb", "import", str(bad)])
    assert result.exit_code == 1
    assert "broken.md:5" in result.output and "unknown status 'approved'" in result.output
    assert "nothing was imported" in result.output


def test_eval_rejects_a_bad_query_file(env: Path) -> None:
    queries = env / "q.jsonl"
    queries.write_text('{"query": "vpn", "relevant_ids": ["vpn"]}\n{"query": 3}\n')
    result = runner.invoke(app, ["eval", "--kb", str(DATA / "kb_small"), "--queries", str(queries)])
    assert result.exit_code == 1
    assert "q.jsonl:2" in result.output and "'query'" in result.output


@pytest.mark.slow
def test_import_check_eval_gaps(env: Path) -> None:
    imported = runner.invoke(app, ["kb", "import", str(DATA / "kb_small")])
    assert imported.exit_code == 0, imported.output
    assert "5 added" in imported.output
    assert "draft: excluded from answering" in imported.output
    assert "review was due on 2025-06-30" in imported.output

    again = runner.invoke(app, ["kb", "import", str(DATA / "kb_small")])
    assert "5 unchanged" in again.output

    checked = runner.invoke(app, ["kb", "check", str(DATA / "kb_small")])
    assert checked.exit_code == 0, checked.output
    assert "0 error(s)" in checked.output

    out = env / "decisions.jsonl"
    curve = env / "curve.png"
    evaluated = runner.invoke(
        app,
        [
            "eval",
            "--queries",
            str(DATA / "queries_small.jsonl"),
            "--out",
            str(out),
            "--curve",
            str(curve),
            "--json",
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output)
    assert set(report["retrievers"]) == {"bm25", "dense", "hybrid"}
    assert report["retrievers"]["hybrid"]["p_at_1"] >= 0.8
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    queries = [json.loads(line) for line in (DATA / "queries_small.jsonl").read_text().splitlines()]
    assert [d["query"] for d in lines] == [q["query"] for q in queries]  # input order
    for decision, query in zip(lines, queries, strict=True):
        assert set(decision) == {
            "query",
            "decision",
            "intent",
            "article_id",
            "confidence",
            "reason",
        }
        assert decision["decision"] in {"answer", "handoff", "clarify", "reply"}
        if decision["decision"] == "answer":
            assert decision["article_id"] in query["relevant_ids"]
        if decision["decision"] == "handoff":
            assert decision["reason"]
    canteen = next(d for d in lines if "canteen" in d["query"])
    assert canteen["decision"] == "handoff"
    assert curve.exists() and curve.with_suffix(".json").exists()

    gaps = runner.invoke(app, ["gaps"])
    assert gaps.exit_code == 0
    assert "No unanswered questions recorded." in gaps.output
