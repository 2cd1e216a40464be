from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from retrieval.articles import Article, Status
from retrieval.confidence import Calibration
from retrieval.embedding import Backend, HashEmbedder, SentenceEmbedder, Vectors
from retrieval.gaps import GapStore
from retrieval.knowledge import KnowledgeBase
from retrieval.loader import load_path
from retrieval.store import KnowledgeStore
from retrieval.text import passages

DATA = Path(__file__).parent / "data"
TODAY = date(2026, 11, 23)
FLAT = Calibration(("score",), (0.0,), (1.0,), (4.0,), -2.0, 0.5, 0.9)


class CountingEmbedder(HashEmbedder):
    """Counts the texts it is asked to embed, to prove what is (not) re-embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return super().encode(texts)


class BackendEmbedder(CountingEmbedder):
    """Named as the real model on `backend` is, with vectors of its own (rotated per backend),
    so that a vector stored under the wrong backend would be seen."""

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self._name = SentenceEmbedder(Path("/models/all-MiniLM-L6-v2"), backend=backend).name
        self._shift = list(Backend).index(backend)

    @property
    def name(self) -> str:
        return self._name

    def encode(self, texts: Sequence[str]) -> Vectors:
        return np.roll(super().encode(texts), self._shift, axis=1)


def make_kb(engine: Engine, embedder: HashEmbedder | None = None) -> KnowledgeBase:
    return KnowledgeBase(
        KnowledgeStore(engine), embedder or CountingEmbedder(), FLAT, clock=lambda: TODAY
    )


def small() -> list[Article]:
    return load_path(DATA / "kb_small").articles


def test_import_then_search(engine: Engine) -> None:
    kb = make_kb(engine)
    report = kb.import_articles(small())
    assert sorted(report.added) == ["mail-phone", "password", "printer", "vpn", "wifi"]
    hit = kb.search("vpn will not connect from home")
    assert hit.top is not None and hit.top.id == "vpn"
    assert [c.article_id for c in hit.result.candidates][:1] == ["vpn"]
    assert 0.0 <= hit.confidence <= 1.0


def test_candidates_carry_the_share_of_query_words_they_contain(engine: Engine) -> None:
    kb = make_kb(engine)
    kb.import_articles(small())
    candidates = {c.article_id: c for c in kb.search("vpn remote access").result.candidates}
    vpn = candidates["vpn"]  # "remote access" is one of its alternative phrasings
    assert vpn.term_recall == pytest.approx(1.0)
    assert vpn.question_term_recall == pytest.approx(1.0)
    others = [c for c in candidates.values() if c.article_id != "vpn"]
    assert others and all(c.term_recall < 1.0 for c in others)
    # a word no article uses weighs most: the top article now misses most of the query
    unknown = kb.search("vpn strikethrough").result.candidates[0]
    assert unknown.article_id == "vpn" and unknown.term_recall < 0.5


def test_draft_and_stale_articles_never_answer(engine: Engine) -> None:
    kb = make_kb(engine)
    kb.import_articles(small())
    ids = {
        c.article_id
        for q in ["staff wifi", "email on my iphone"]
        for c in kb.search(q).result.candidates
    }
    assert "wifi" not in ids  # draft
    assert "mail-phone" not in ids  # reviewed 2025-01-01 every 180 days: overdue
    reasons = dict((a.id, r) for a, r in kb.excluded())
    assert reasons == {"wifi": "status is draft", "mail-phone": "review was due on 2025-06-30"}
    # The day before it fell due, the same article could answer.
    early = kb.search("email on my iphone", today=date(2025, 6, 30))
    assert early.top is not None and early.top.id == "mail-phone"


def test_tag_filter(engine: Engine) -> None:
    kb = make_kb(engine)
    kb.import_articles(small())
    hit = kb.search("how do I connect to the VPN", tags=("password",))
    assert [c.article_id for c in hit.result.candidates] == ["password"]


def test_reimport_embeds_only_changes(engine: Engine) -> None:
    embedder = CountingEmbedder()
    kb = make_kb(engine, embedder)
    articles = small()
    kb.import_articles(articles)
    first = len(embedder.texts)
    assert first > 0

    unchanged = kb.import_articles(articles)
    assert unchanged.changed == [] and len(embedder.texts) == first

    by_id = {a.id: a for a in articles}
    edited = replace(
        by_id["printer"], questions=(*by_id["printer"].questions, "scanner on floor 3")
    )
    retired = replace(by_id["vpn"], status=Status.RETIRED)
    added = replace(by_id["password"], id="password-rules", title="Password rules")
    report = kb.import_articles([edited, retired, added])
    assert (report.added, sorted(report.updated), report.retired) == (
        ["password-rules"],
        ["printer", "vpn"],
        ["vpn"],
    )
    new_texts = embedder.texts[first:]
    assert "scanner on floor 3" in new_texts and "Password rules" in new_texts
    assert not any("VPN" in t for t in new_texts)  # retiring does not embed
    assert "vpn" not in {c.article_id for c in kb.search("connect to the VPN").result.candidates}
    assert kb.search("scanner on floor 3").top.id == "printer"  # type: ignore[union-attr]


def test_restart_reuses_stored_vectors(engine: Engine) -> None:
    make_kb(engine).import_articles(small())
    embedder = CountingEmbedder()
    restarted = make_kb(engine, embedder)
    stats = restarted.load()
    assert stats.embedded == 0 and stats.reused == 4  # stale articles stay indexed, masked
    assert embedder.texts == []
    assert restarted.search("add the office printer").top.id == "printer"  # type: ignore[union-attr]


def test_backends_key_their_own_vectors() -> None:
    names = {b: SentenceEmbedder(Path("/models/all-MiniLM-L6-v2"), backend=b).name for b in Backend}
    assert names[Backend.TORCH] == "st:all-MiniLM-L6-v2"  # vectors stored before stay valid
    assert len(set(names.values())) == len(Backend)


def test_switching_backend_embeds_once_and_never_mixes_vectors(engine: Engine) -> None:
    articles = small()
    torch_, onnx_ = BackendEmbedder(Backend.TORCH), BackendEmbedder(Backend.ONNX_INT8)
    make_kb(engine, torch_).import_articles(articles)
    switched = make_kb(engine, onnx_).load()
    assert switched.embedded == switched.articles > 0 and len(onnx_.texts) == len(torch_.texts)

    for backend in (Backend.ONNX_INT8, Backend.TORCH):  # each way back: nothing re-embedded
        again = BackendEmbedder(backend)
        assert make_kb(engine, again).load().embedded == 0 and again.texts == []

    store = KnowledgeStore(engine)
    indexed = [a for a in articles if a.status is Status.VALIDATED]
    for embedder in (torch_, onnx_):
        stored = store.load_vectors([a.content_hash for a in indexed], embedder.name)
        assert set(stored) == {a.content_hash for a in indexed}
        for article in indexed:
            expected = embedder.encode([p.text for p in passages(article)])
            np.testing.assert_array_equal(stored[article.content_hash].vectors, expected)


def test_other_process_edit_is_picked_up(engine: Engine) -> None:
    a = make_kb(engine)
    a.import_articles(small())
    b = make_kb(engine)
    b.load()
    assert not b.refresh()
    printer = next(x for x in small() if x.id == "printer")
    a.import_articles([replace(printer, status=Status.RETIRED)])
    assert b.refresh()
    assert "printer" not in {c.article_id for c in b.search("add the printer").result.candidates}


def test_failed_embedding_leaves_store_unchanged(engine: Engine) -> None:
    class Broken(HashEmbedder):
        def encode(self, texts: Sequence[str]) -> Vectors:
            raise RuntimeError("model unavailable")

    kb = make_kb(engine, Broken())
    with pytest.raises(RuntimeError):
        kb.import_articles(small())
    assert KnowledgeStore(engine).articles() == []


def test_calibration_persists(engine: Engine) -> None:
    kb = make_kb(engine)
    kb.import_articles(small())
    fitted = replace(FLAT, threshold=0.42, source="unit")
    kb.use_calibration(fitted, persist=True)
    again = make_kb(engine)
    again.load()
    assert again.calibration == fitted and again.threshold == 0.42


def test_near_duplicates(engine: Engine) -> None:
    kb = make_kb(engine)
    articles = small()
    twin = replace(next(a for a in articles if a.id == "password"), id="password-copy")
    kb.import_articles([*articles, twin])
    pairs = kb.near_duplicates(0.95)
    assert [(a, b) for a, b, _ in pairs] == [("password", "password-copy")]


def test_open_gaps_newest_only_when_asked(engine: Engine) -> None:
    gaps = GapStore(engine)
    for n in range(5):
        gaps.record_gap(f"question {n}", "low_confidence", None, 0.1)
    gaps.close([gaps.gaps()[4].id], "dismissed", "")
    assert [g.question for g in gaps.gaps()] == [f"question {n}" for n in range(4)]
    assert [g.question for g in gaps.gaps(latest=2)] == ["question 2", "question 3"]
    assert len(gaps.gaps(latest=10)) == 4
