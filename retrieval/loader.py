"""Loading and validating knowledge: Markdown articles with YAML front matter, or JSONL rows.

Every problem names the file, the line and the field. Loading never touches the store: the
caller imports only when there are no errors, so a bad file leaves the store as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from retrieval.articles import Article, Status

FRONT_MATTER_FIELDS = (
    "id",
    "title",
    "owner",
    "status",
    "reviewed_on",
    "review_every_days",
    "tags",
    "questions",
    "answer",
    "link",
)
REQUIRED_FIELDS = ("id", "title", "owner", "status", "reviewed_on", "review_every_days", "answer")
JSONL_FIELDS = {*FRONT_MATTER_FIELDS, "body"}
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class _FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text: PyYAML raises a bare ValueError on an impossible
    date such as 2026-13-45, and we want to report it against its field."""


_FrontMatterLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    file: str
    message: str
    field: str | None = None
    line: int | None = None
    severity: Severity = Severity.ERROR
    article_id: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f"field '{self.field}': " if self.field else ""
        return f"{where}: {self.severity.value}: {what}{self.message}"


@dataclass
class LoadResult:
    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors


def load_path(path: Path) -> LoadResult:
    """Load a folder of Markdown articles, one Markdown file, or a JSONL file."""
    result = LoadResult()
    if not path.exists():
        result.problems.append(Problem(str(path), "no such file or folder"))
        return result
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".md", ".jsonl") and p.is_file())
        if not files:
            result.problems.append(Problem(str(path), "no .md or .jsonl files found"))
    else:
        files = [path]
    for file in files:
        if file.suffix == ".jsonl":
            _collect(result, _load_jsonl(file))
        elif file.suffix == ".md":
            _collect(result, [_load_markdown(file)])
        else:
            result.problems.append(Problem(str(file), "expected a .md or .jsonl file"))
    _check_duplicates(result)
    return result


def _collect(result: LoadResult, parsed: Iterable[tuple[Article | None, list[Problem]]]) -> None:
    for article, problems in parsed:
        result.problems.extend(problems)
        if article is not None and not any(p.severity is Severity.ERROR for p in problems):
            result.articles.append(article)


def _check_duplicates(result: LoadResult) -> None:
    seen: dict[str, Article] = {}
    unique: list[Article] = []
    for article in result.articles:
        first = seen.get(article.id)
        if first is None:
            seen[article.id] = article
            unique.append(article)
            continue
        result.problems.append(
            Problem(
                article.source,
                f"duplicate id '{article.id}' (also in {first.source})",
                field="id",
                article_id=article.id,
            )
        )
    result.articles = unique


# -- Markdown ------------------------------------------------------------------------------


def _split_front_matter(text: str) -> tuple[str, str, int] | None:
    """Return (front matter, body, line where the front matter starts) or None."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]), 2
    return None


def _field_lines(front: str, first_line: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for offset, line in enumerate(front.splitlines()):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", line)
        if match and match.group(1) not in found:
            found[match.group(1)] = first_line + offset
    return found


def _load_markdown(file: Path) -> tuple[Article | None, list[Problem]]:
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, f"cannot read file ({exc.__class__.__name__})")]
    split = _split_front_matter(text)
    if split is None:
        return None, [
            Problem(name, "no YAML front matter (the file must start with a '---' line)", line=1)
        ]
    front, body, first_line = split
    try:
        data = yaml.load(front, Loader=_FrontMatterLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or "invalid YAML"
        return None, [Problem(name, f"invalid front matter: {problem}", line=line)]
    if not isinstance(data, dict):
        return None, [Problem(name, "front matter must be a mapping of fields", line=first_line)]
    lines = _field_lines(front, first_line)
    return _build(data, body.strip(), name, lambda f: lines.get(f, first_line), strict=True)


# -- JSONL ---------------------------------------------------------------------------------


def _load_jsonl(file: Path) -> Iterator[tuple[Article | None, list[Problem]]]:
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        yield None, [Problem(name, f"cannot read file ({exc.__class__.__name__})")]
        return
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield None, [Problem(name, f"invalid JSON ({exc.msg})", line=number)]
            continue
        if not isinstance(data, dict):
            yield None, [Problem(name, "each line must be a JSON object", line=number)]
            continue
        body = data.get("body", "")
        yield _build(
            data,
            body if isinstance(body, str) else "",
            name,
            lambda _f, line=number: line,
            strict=False,
            body_field=True,
        )


# -- validation ----------------------------------------------------------------------------


def _build(
    data: dict[str, Any],
    body: str,
    file: str,
    line_of: Any,
    *,
    strict: bool,
    body_field: bool = False,
) -> tuple[Article | None, list[Problem]]:
    """Validate one article's fields. `strict` is the Markdown contract; JSONL rows only
    need id, title and body."""
    problems: list[Problem] = []
    raw_id = data.get("id")
    article_id = str(raw_id) if isinstance(raw_id, str | int) else None

    def error(field_name: str, message: str) -> None:
        problems.append(
            Problem(file, message, field_name, line_of(field_name), article_id=article_id)
        )

    def warn(field_name: str | None, message: str) -> None:
        problems.append(
            Problem(
                file, message, field_name, line_of(field_name or "id"), Severity.WARNING, article_id
            )
        )

    allowed = JSONL_FIELDS if body_field else set(FRONT_MATTER_FIELDS)
    for key in data:
        if key not in allowed and not (body_field and key in ("n_answers", "qid")):
            warn(str(key), "unknown field (ignored)")

    required = REQUIRED_FIELDS if strict else ("id", "title", "body")
    for name in required:
        value = data.get(name) if name != "body" else body
        if value is None or (isinstance(value, str) and not value.strip()):
            error(name, "empty answer" if name == "answer" else f"missing {name}")

    if article_id is not None and not ID_PATTERN.match(article_id):
        error("id", "must be letters, digits, '.', '_' or '-' (at most 128)")

    title = _text(data, "title", error)
    owner = _text(data, "owner", error)
    answer = _text(data, "answer", error)
    link = _text(data, "link", error)

    status = Status.VALIDATED
    if "status" in data and data["status"] is not None:
        try:
            status = Status(str(data["status"]).strip().lower())
        except ValueError:
            error("status", f"unknown status '{data['status']}' (use draft, validated or retired)")

    reviewed_on = _date(data.get("reviewed_on"), lambda m: error("reviewed_on", m))
    review_every = data.get("review_every_days")
    if review_every is not None and (
        isinstance(review_every, bool) or not isinstance(review_every, int) or review_every <= 0
    ):
        error("review_every_days", f"must be a positive whole number of days, not {review_every!r}")
        review_every = None

    tags = _strings(data.get("tags"), "tags", error)
    questions = _strings(data.get("questions"), "questions", error)

    if problems and any(p.severity is Severity.ERROR for p in problems):
        return None, problems
    assert article_id is not None
    if strict and status is Status.VALIDATED and len(questions) < 3:
        warn("questions", f"only {len(questions)} alternative phrasings (3 or more help matching)")
    article = Article(
        id=article_id,
        title=title.strip(),
        body=body,
        answer=answer.strip(),
        questions=tuple(q.strip() for q in questions if q.strip()),
        owner=owner.strip(),
        status=status,
        reviewed_on=reviewed_on,
        review_every_days=review_every,
        tags=tuple(t.strip().lower() for t in tags if t.strip()),
        link=link.strip(),
        source=file,
    )
    return article, problems


def _text(data: dict[str, Any], name: str, error: Any) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    error(name, f"must be text, not {type(value).__name__}")
    return ""


def _strings(value: Any, name: str, error: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    error(name, "must be a list of text items")
    return []


def _date(value: Any, error: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        error(f"bad date '{value}' (use YYYY-MM-DD)")
        return None


DUE_SOON_DAYS = 14


def lifecycle_problems(articles: Iterable[Article], today: date) -> list[Problem]:
    """Warnings about articles that cannot answer, or soon will not."""
    out: list[Problem] = []
    for a in articles:
        due = a.review_due
        # the field named is the one to change: a draft's status, an old review's date
        field = "reviewed_on"
        if a.status is Status.DRAFT:
            field = "status"
            message = "draft: excluded from answering until the status is validated"
        elif a.status is Status.RETIRED:
            continue
        elif due is not None and today > due:
            message = f"review was due on {due}: excluded from answering until reviewed"
        elif due is not None and (due - today).days <= DUE_SOON_DAYS:
            message = f"review falls due on {due} (in {(due - today).days} days)"
        else:
            continue
        out.append(
            Problem(a.source or a.id, message, field, severity=Severity.WARNING, article_id=a.id)
        )
    return out
