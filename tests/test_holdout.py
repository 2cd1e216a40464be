"""Held-out data stays held out: no held-out message or query is, word for word, something the
router trains on (exemplars, the articles' titles and phrasings), something the fusion weights
or the calibration were tuned on (the demo questions, stackfaq-dev), or a regression set that
became exemplars. Test inputs meant to reach the classifier are not exemplars either: a fake
embedder finds an exemplar by its exact words, which would prove nothing about routing."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH
from flows.classifier import EXEMPLARS_FILE
from flows.router import Router
from retrieval.loader import load_path

TESTS = Path(__file__).parent
DATA = TESTS / "data"
STACKFAQ = TESTS.parent.parent.parent / "shared" / "data" / "stackfaq-dev"

# held-out file -> the field holding its text
HELD_OUT = {
    "routing_holdout.jsonl": "text",
    "dialogue_holdout2.jsonl": "text",
    "retrieval_holdout.jsonl": "query",
}


def words(text: str) -> str:
    """The same message whatever its case, punctuation or spacing."""
    return re.sub(r"[^\w]+", " ", text.casefold()).strip()


def jsonl(path: Path, field: str) -> list[str]:
    return [
        json.loads(line)[field] for line in path.read_text("utf-8").splitlines() if line.strip()
    ]


def trained_or_tuned_on() -> dict[str, set[str]]:
    sources = {
        "flows/exemplars.jsonl": set(map(words, jsonl(EXEMPLARS_FILE, "text"))),
        "the demo articles' titles and phrasings": {
            words(t) for a in load_path(DEMO_KB_PATH).articles for t in (a.title, *a.questions)
        },
        "bot/demo/questions.jsonl": set(map(words, jsonl(DEMO_QUESTIONS_PATH, "query"))),
        "tests/data/routing_regression.jsonl": set(
            map(words, jsonl(DATA / "routing_regression.jsonl", "text"))
        ),
    }
    if (STACKFAQ / "queries.jsonl").exists():
        sources["stackfaq-dev queries"] = set(
            map(words, jsonl(STACKFAQ / "queries.jsonl", "query"))
        )
    return sources


def overlaps(held_out: Iterable[str], sources: dict[str, set[str]]) -> list[tuple[str, str]]:
    return [
        (text, name) for text in held_out for name, seen in sources.items() if words(text) in seen
    ]


@pytest.mark.parametrize("name", sorted(HELD_OUT))
def test_held_out_sets_share_nothing_with_what_trains_or_tunes(name: str) -> None:
    texts = jsonl(DATA / name, HELD_OUT[name])
    assert len(texts) >= 60
    assert overlaps(texts, trained_or_tuned_on()) == []


def test_held_out_sets_are_distinct_from_each_other() -> None:
    seen: dict[str, str] = {}
    for name, field in HELD_OUT.items():
        for text in jsonl(DATA / name, field):
            assert seen.setdefault(words(text), name) == name, (text, seen[words(text)], name)


def test_the_check_catches_an_exemplar_copied_into_a_held_out_set() -> None:
    exemplar = jsonl(EXEMPLARS_FILE, "text")[7]
    held_out = [*jsonl(DATA / "routing_holdout.jsonl", "text"), exemplar.upper() + "!"]
    assert overlaps(held_out, trained_or_tuned_on()) == [
        (exemplar.upper() + "!", "flows/exemplars.jsonl")
    ]


def test_redaction_held_out_rows_are_not_in_the_corpora() -> None:
    def texts(name: str) -> set[str]:
        return set(map(words, jsonl(DATA / name, "text")))

    held_out = texts("redaction_holdout.jsonl")
    assert held_out & texts("redaction_corpus.jsonl") == set()
    assert held_out & texts("secrets_corpus.jsonl") == set()


TEST_FILES_WITH_MESSAGES = [
    TESTS / "test_dialogue.py",
    *sorted((TESTS / "slack").glob("test_*.py")),
    *sorted(TESTS.glob("test_teams_*.py")),
    *sorted(TESTS.glob("test_console_*.py")),
]


@pytest.mark.parametrize("path", TEST_FILES_WITH_MESSAGES, ids=lambda p: p.name)
def test_messages_that_reach_the_classifier_are_not_exemplars(path: Path) -> None:
    """Every string in the file that no routing rule catches (so the classifier would decide
    it) is not an exemplar word for word."""
    exemplars = set(map(words, jsonl(EXEMPLARS_FILE, "text")))
    router = Router.from_file()
    strings = {
        node.value
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    found = [s for s in strings if words(s) in exemplars and router.by_rule(s) is None]
    assert found == []
