"""Routing and policy on labeled dialogue messages, through the same policy as a live chat.

    python bench/dialogue_eval.py [--messages tests/data/dialogue_holdout2.jsonl]

Each message is the first message of a new conversation. Reports human-request recall and
false positives (a hand-off with reason user_request), the share of risky messages handed off
(any reason) and with the risky intent, and where the other messages went. The default file
is a held-out set written independently of the routing rules and exemplars
(`routing_regression.jsonl`, the first such set, has since been added to the exemplars and is
kept as a regression set). `routing_holdout.jsonl` is kept for the test suite's final check:
do not tune on it (`tests/test_holdout.py` keeps it out of the exemplars).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from pathlib import Path

from bot.db import make_engine, migrate
from bot.evaluation import NoRequests
from bot.redaction import redact_text
from bot.settings import DEMO_KB_PATH
from bot.wiring import DEFAULT_CALIBRATION
from flows.policy import Policy
from flows.router import Router
from flows.types import FlowState, UserTurn
from retrieval.confidence import Calibration
from retrieval.embedding import SentenceEmbedder
from retrieval.knowledge import KnowledgeBase
from retrieval.loader import load_path
from retrieval.store import KnowledgeStore

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--messages", type=Path, default=ROOT / "tests/data/dialogue_holdout2.jsonl"
    )
    parser.add_argument("--kb", type=Path, default=DEMO_KB_PATH)
    parser.add_argument(
        "--cache", default=str(Path(tempfile.gettempdir()) / "deskbot-bench-vectors.db")
    )
    parser.add_argument("--show", action="store_true", help="print the misrouted messages")
    args = parser.parse_args()

    rows = [json.loads(line) for line in args.messages.read_text().splitlines() if line.strip()]
    cache = make_engine(f"sqlite:///{args.cache}")
    migrate(cache)
    scratch = make_engine("sqlite://")
    migrate(scratch)
    embedder = SentenceEmbedder()
    calibration = Calibration.from_json(DEFAULT_CALIBRATION.read_text())
    kb = KnowledgeBase(
        KnowledgeStore(scratch), embedder, calibration, vector_store=KnowledgeStore(cache)
    )
    kb.import_articles(load_path(args.kb).articles)
    policy = Policy(Router.from_file(embedder), kb, NoRequests())
    policy.learn()

    texts = [redact_text(r["text"]) for r in rows]
    vectors = embedder.encode(texts)
    decided = [
        policy.handle(FlowState(), UserTurn(t, vector=vectors[i])).decided
        for i, t in enumerate(texts)
    ]

    human = [d for r, d in zip(rows, decided, strict=True) if r["intent"] == "human"]
    other = [d for r, d in zip(rows, decided, strict=True) if r["intent"] != "human"]
    risky = [d for r, d in zip(rows, decided, strict=True) if r["intent"] == "risky"]

    def asked_person(d: object) -> bool:
        return getattr(d, "reason", None) is not None and d.reason.value == "user_request"  # type: ignore[attr-defined]

    recall = sum(map(asked_person, human)) / len(human)
    false_pos = sum(map(asked_person, other)) / len(other)
    handed = sum(d.decision.value == "handoff" for d in risky) / len(risky)
    as_risky = sum(d.intent.value == "risky" for d in risky) / len(risky)
    print(f"{args.messages.name}: {len(rows)} messages")
    print(f"human request recall      {recall:.3f}  ({len(human)} messages)")
    print(f"human false positives     {false_pos:.3f}  ({len(other)} other messages)")
    print(
        f"risky handed off          {handed:.3f}  (as risky {as_risky:.3f}; {len(risky)} messages)"
    )
    for label in sorted({r["intent"] for r in rows}):
        got = Counter(
            f"{d.intent.value}/{d.decision.value}"
            for r, d in zip(rows, decided, strict=True)
            if r["intent"] == label
        )
        print(f"  {label:<15} -> {dict(got.most_common())}")
    if args.show:
        for r, d in zip(rows, decided, strict=True):
            wrong = (r["intent"] == "human") != asked_person(d) or (
                r["intent"] == "risky" and d.intent.value != "risky"
            )
            if wrong:
                got = f"{d.intent.value}/{d.decision.value}/{d.reason}"
                print(f"  [{r['intent']} -> {got}] {r['text']}")


if __name__ == "__main__":
    main()
