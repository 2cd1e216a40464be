"""Quality guards with the real model (marked slow; one model load per session): the hybrid
ranking beats each retriever alone on queries no weight was tuned on, the calibrated policy
keeps its precision, and the router holds its targets on held-out dialogue messages (and on
the regression set that became exemplars). `tests/test_holdout.py` keeps the held-out files
out of everything that trains or tunes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import demo_data
from bot.db import make_engine, migrate
from bot.evaluation import NoRequests, evaluate
from bot.redaction import redact_text
from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH
from bot.wiring import DEFAULT_CALIBRATION
from flows.policy import Policy
from flows.router import Router
from flows.types import FlowState, UserTurn
from retrieval.confidence import Calibration
from retrieval.embedding import SentenceEmbedder
from retrieval.evaluation import load_queries
from retrieval.knowledge import KnowledgeBase
from retrieval.store import KnowledgeStore
from tests.clock import CLOCK

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def demo_kb(
    real_embedder: SentenceEmbedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KnowledgeBase]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('quality') / 'kb.db'}")
    migrate(engine)
    kb = KnowledgeBase(
        KnowledgeStore(engine),
        real_embedder,
        Calibration.from_json(DEFAULT_CALIBRATION.read_text()),
        clock=CLOCK.today,
    )
    kb.import_articles(demo_data.load_articles(DEMO_KB_PATH, CLOCK.today()).articles)
    yield kb
    engine.dispose()


@pytest.fixture(scope="module")
def router(real_embedder: SentenceEmbedder, demo_kb: KnowledgeBase) -> Router:
    r = Router.from_file(real_embedder)
    r.learn(demo_kb.question_vectors(), demo_kb.revision)
    return r


def test_demo_set_keeps_precision_and_hands_off_off_topic(
    demo_kb: KnowledgeBase, router: Router
) -> None:
    queries = load_queries(DEMO_QUESTIONS_PATH)
    report, decided = evaluate(demo_kb, router, queries, folds=5, seed=0)
    assert report.at_threshold.precision >= 0.95
    offtopic = [d for d, q in zip(decided, queries, strict=True) if q.kind == "offtopic"]
    assert offtopic and all(d.decision.value == "handoff" for d in offtopic)


@pytest.fixture(scope="module")
def held_out_retrieval(demo_kb: KnowledgeBase, router: Router) -> dict[str, float]:
    """P@1 per retriever on queries no weight was tuned on: the fusion weights were fitted on
    the demo questions and stackfaq-dev (bench/tune_fusion.py); this set was written apart
    from both."""
    report, _ = evaluate(demo_kb, router, load_queries(DATA / "retrieval_holdout.jsonl"))
    return {name: m.p_at_1 for name, m in report.retrievers.items()}


def test_hybrid_beats_bm25_on_queries_no_weight_was_tuned_on(
    held_out_retrieval: dict[str, float],
) -> None:
    p_at_1 = held_out_retrieval
    assert p_at_1["hybrid"] > p_at_1["bm25"]


@pytest.mark.xfail(
    strict=True,
    reason="measured on 59 held-out queries: hybrid P@1 0.915, dense 0.932 (one query); the "
    "fusion weights' gain over dense on their tuning sets does not carry over",
)
def test_hybrid_beats_dense_on_queries_no_weight_was_tuned_on(
    held_out_retrieval: dict[str, float],
) -> None:
    p_at_1 = held_out_retrieval
    assert p_at_1["hybrid"] > p_at_1["dense"]


# Risky messages of the fresh held-out set that the policy does not hand off today. Listed
# so that the check stays exact: a new miss fails, and so does a fixed one (remove it here).
KNOWN_RISKY_MISSES = {
    "routing_holdout.jsonl": {
        "an email from the CEO asked for gift cards and I already bought some",
        "I approved an MFA push I wasn't expecting",
    }
}


@pytest.mark.parametrize(
    "name", ["routing_holdout.jsonl", "dialogue_holdout2.jsonl", "routing_regression.jsonl"]
)
def test_router_targets_on_held_out_messages(
    demo_kb: KnowledgeBase, router: Router, real_embedder: SentenceEmbedder, name: str
) -> None:
    rows = [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]
    policy = Policy(router, demo_kb, NoRequests())
    texts = [redact_text(r["text"]) for r in rows]
    vectors = real_embedder.encode(texts)
    decided = [
        policy.handle(FlowState(), UserTurn(t, vector=vectors[i])).decided
        for i, t in enumerate(texts)
    ]
    asked = [d.reason is not None and d.reason.value == "user_request" for d in decided]
    human = [a for a, r in zip(asked, rows, strict=True) if r["intent"] == "human"]
    others = [a for a, r in zip(asked, rows, strict=True) if r["intent"] != "human"]
    missed = {
        r["text"]
        for d, r in zip(decided, rows, strict=True)
        if r["intent"] == "risky" and d.decision.value != "handoff"
    }
    assert sum(human) / len(human) >= 0.95
    assert sum(others) / len(others) <= 0.02
    assert missed == KNOWN_RISKY_MISSES.get(name, set())
