from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.articles import Status
from retrieval.loader import Severity, load_path

DATA = Path(__file__).parent / "data"

GOOD = """---
id: {id}
title: Connect to the VPN
owner: Network Team <network@example.com>
status: validated
reviewed_on: 2026-10-01
review_every_days: 365
tags: [vpn]
questions: [one, two, three]
answer: Install the client.
link: https://it.example.com/kb/vpn
---
Body text.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_small_fixture_loads_all_fields() -> None:
    result = load_path(DATA / "kb_small")
    assert result.ok, [str(p) for p in result.errors]
    by_id = {a.id: a for a in result.articles}
    assert set(by_id) == {"vpn", "printer", "password", "wifi", "mail-phone"}
    vpn = by_id["vpn"]
    assert vpn.owner == "Network Team <network@example.com>"
    assert vpn.tags == ("vpn",)
    assert len(vpn.questions) == 3
    assert vpn.link.endswith("/kb/vpn")
    assert "error 809" in vpn.body
    assert by_id["wifi"].status is Status.DRAFT


@pytest.mark.parametrize(
    ("replace", "field", "message"),
    [
        ("owner: Network Team <network@example.com>\n", "owner", "missing owner"),
        ("status: validated", "status", "unknown status 'approved'"),
        ("reviewed_on: 2026-10-01", "reviewed_on", "bad date '2026-13-45'"),
        ("answer: Install the client.", "answer", "empty answer"),
        ("review_every_days: 365", "review_every_days", "positive whole number"),
    ],
)
def test_field_errors_name_file_line_and_field(
    tmp_path: Path, replace: str, field: str, message: str
) -> None:
    replacements = {
        "owner": "",
        "status": "status: approved",
        "reviewed_on": "reviewed_on: 2026-13-45",
        "answer": "answer: ''",
        "review_every_days": "review_every_days: -3",
    }
    text = GOOD.format(id="vpn").replace(replace, replacements[field])
    write(tmp_path, "vpn.md", text)
    result = load_path(tmp_path)
    assert not result.ok
    assert result.articles == []
    error = next(e for e in result.errors if e.field == field)
    assert message in error.message
    assert error.file.endswith("vpn.md")
    assert error.line is not None and error.line >= 2
    assert field in str(error) and "vpn.md:" in str(error)


def test_error_line_points_at_the_field(tmp_path: Path) -> None:
    write(tmp_path, "vpn.md", GOOD.format(id="vpn").replace("status: validated", "status: nope"))
    error = load_path(tmp_path).errors[0]
    assert error.line == 5  # the line of `status:` in the file


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.md", GOOD.format(id="same"))
    write(tmp_path, "b.md", GOOD.format(id="same"))
    result = load_path(tmp_path)
    [error] = result.errors
    assert "duplicate id 'same'" in error.message and "a.md" in error.message
    assert error.file.endswith("b.md")


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    write(tmp_path, "bad.md", "---\nid: x\ntitle: [unclosed\nowner: y\n---\nbody\n")
    [error] = load_path(tmp_path).errors
    assert "invalid front matter" in error.message
    assert error.line is not None and error.line >= 3


def test_missing_front_matter(tmp_path: Path) -> None:
    write(tmp_path, "plain.md", "# Just a heading\n")
    [error] = load_path(tmp_path).errors
    assert "front matter" in error.message and error.line == 1


def test_unknown_field_and_few_questions_are_warnings(tmp_path: Path) -> None:
    text = GOOD.format(id="vpn").replace("questions: [one, two, three]", "questions: [one]")
    write(tmp_path, "vpn.md", text.replace("link:", "reviewd_by: me\nlink:"))
    result = load_path(tmp_path)
    assert result.ok
    fields = {w.field for w in result.warnings}
    assert fields == {"reviewd_by", "questions"}
    assert all(w.severity is Severity.WARNING for w in result.warnings)


def test_jsonl_rows_and_line_numbers(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "title": "A", "body": "First paragraph.\n\nSecond."},
        {"id": "b", "title": "B", "body": "b", "questions": ["q1", "q2"], "answer": "Short."},
        {"id": "c", "body": "no title"},
    ]
    path = tmp_path / "kb.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n", encoding="utf-8")
    result = load_path(path)
    errors = sorted(result.errors, key=lambda e: e.line or 0)
    assert [(e.line, e.field) for e in errors] == [(3, "title"), (4, None)]
    assert "invalid JSON" in errors[1].message
    assert [a.id for a in result.articles] == ["a", "b"]
    assert result.articles[0].short_answer == "First paragraph."
    assert result.articles[1].questions == ("q1", "q2")


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    result = load_path(tmp_path / "nope")
    assert not result.ok and "no such file" in result.errors[0].message
