"""Console actions with the real model: link a question (check + publish), the publish check
of an edit, and "Try a question" (live, and on a draft), at the demo size and at 1,000
articles with 1,000 labeled questions.

    python bench/console_actions.py [--sizes demo 1000] [--rounds 5]

Each action is timed beside the bare encoder call it cannot avoid, measured in the same run
(interleaved): encoding the changed article's passages for a link or an edit, encoding the
question for a try. The ratio is action / bare encode. The first check after start (encoding
the labeled questions and deciding them all on the live knowledge base) is reported apart.

At 1,000 articles the articles are synthetic (bench/retrieval_latency.py) with random unit
passage vectors (searching costs the same whatever they hold; embedding 1,000 articles would
take most of an hour on a shared machine), and each labeled question is an article's own
phrasing whose vector is that phrasing's passage plus noise, so the questions sit near their
articles as real ones do. The changed article and tried questions go through the real model.
`touched` is how many labeled questions the change could reach and were decided again;
`all_questions` times the same check deciding every question again (no reach filter).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval_latency import random_vectors, synthetic

from bot import wiring
from bot.console import publishing
from bot.console.publishing import Publisher, reachable
from bot.console.tryout import as_published, try_question
from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH, Settings
from retrieval.embedding import SentenceEmbedder
from retrieval.store import Change
from retrieval.text import View, passages


def settings_for(work: Path, questions: Path) -> Settings:
    return Settings(
        DESKBOT_DATABASE_URL=f"sqlite:///{work / 'bench.db'}",
        DESKBOT_KB_PATH=DEMO_KB_PATH,
        DESKBOT_QUESTIONS_PATH=questions,
        DESKBOT_SPOOL_FILE=work / "spool.jsonl",
    )


def demo_setup(work: Path, embedder: SentenceEmbedder) -> Publisher:
    settings = settings_for(work, DEMO_QUESTIONS_PATH)
    services = wiring.services(settings, wiring.database(settings), embedder)
    wiring.prepare_knowledge(settings, services, import_path=True)
    return Publisher(settings, services)


def big_setup(work: Path, embedder: SentenceEmbedder, n: int) -> Publisher:
    articles = synthetic(n)
    questions = work / "labeled.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"query": a.questions[0], "relevant_ids": [a.id]}) + "\n" for a in articles
        )
    )
    settings = settings_for(work, questions)
    engine = wiring.database(settings)
    services = wiring.services(settings, engine, embedder)
    vectors = random_vectors(articles, 384)
    services.knowledge.store.save_vectors(vectors, embedder.name)
    services.knowledge.import_articles(articles)
    wiring.warm_up(services)
    publisher = Publisher(settings, services)
    # the labeled questions' vectors: each near its article's own phrasing (see above)
    rng = np.random.default_rng(5)
    rows = []
    for a in articles:
        v = vectors[a.content_hash]
        phrasing = v.vectors[[i for i, w in enumerate(v.views) if w == View.QUESTION][1]]
        noisy = phrasing + rng.normal(scale=0.03, size=phrasing.shape)
        rows.append(noisy / np.linalg.norm(noisy))
    path = settings.questions_path
    key = (str(path), path.stat().st_mtime_ns, embedder.name)
    publisher._vectors = (key, np.vstack(rows).astype(np.float32))
    return publisher


def timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - started


def summary(action: list[float], bare: list[float]) -> dict[str, float]:
    return {
        "median_s": statistics.median(action),
        "max_s": max(action),
        "bare_encode_median_s": statistics.median(bare),
        "ratio": statistics.median(action) / statistics.median(bare),
    }


def run(publisher: Publisher, embedder: SentenceEmbedder, rounds: int) -> dict[str, object]:
    kb = publisher.services.knowledge
    target = sorted(
        (a for a in kb.articles() if a.status.value == "validated"), key=lambda a: a.id
    )[len(kb.articles()) // 2]
    out: dict[str, object] = {"articles": len(kb.articles())}
    queries, _ = publisher._queries()
    out["labeled_questions"] = len(queries)
    out["first_check_cold_s"] = timed(lambda: publisher.check([]))

    link, link_bare, touched = [], [], []
    for i in range(rounds):
        current = kb.article(target.id)
        assert current is not None
        changed = replace(current, questions=(*current.questions, f"how do i fix it {i} plz"))
        texts = [p.text for p in passages(changed)]
        link_bare.append(timed(lambda t=texts: embedder.encode(t)))
        link.append(
            timed(lambda c=changed: publisher.publish([c], Change("bench", "link", "bench")))
        )
        _, vectors, before, _ = publisher._prepare()
        touched.append(len(reachable(kb, [changed], queries, vectors, before)))
    out["link"] = summary(link, link_bare) | {"touched_median": statistics.median(touched)}

    check, check_bare, everything = [], [], []
    for i in range(rounds):
        current = kb.article(target.id)
        assert current is not None
        edited = replace(current, answer=f"{current.answer} Step {i}: restart first.")
        texts = [p.text for p in passages(edited)]
        check_bare.append(timed(lambda t=texts: embedder.encode(t)))
        check.append(timed(lambda e=edited: publisher.check([e])))
        edited = replace(edited, answer=edited.answer + " Again.")
        publishing.REACH = float("inf")  # every question decided again
        try:
            everything.append(timed(lambda e=edited: publisher.check([e])))
        finally:
            publishing.REACH = 0.1
    out["publish_check"] = summary(check, check_bare) | {
        "all_questions_median_s": statistics.median(everything)
    }

    tried, tried_bare, draft, draft_bare = [], [], [], []
    for i in range(rounds):
        question = f"my laptop will not start after the update, attempt {i}"
        tried_bare.append(timed(lambda q=question: embedder.encode([q])))
        tried.append(timed(lambda q=question: try_question(publisher, q)))
        # a draft preview embeds the edited article too: its bare encode is both
        preview = as_published(replace(target, answer=f"Draft {i}."), kb.clock())
        texts = [p.text for p in passages(preview)]
        draft_bare.append(timed(lambda q=question, t=texts: embedder.encode([q, *t])))
        preview = replace(preview, answer=f"Draft {i}, again.")
        draft.append(timed(lambda q=question, p=preview: try_question(publisher, q, [p])))
    out["try_question"] = summary(tried, tried_bare)
    out["try_question_on_a_draft"] = summary(draft, draft_bare)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["demo", "1000"])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    wiring.single_threaded_blas()
    embedder = SentenceEmbedder()
    embedder.warm_up()
    results = {}
    for size in args.sizes:
        work = Path(tempfile.mkdtemp(prefix="deskbot-console-bench-"))
        publisher = (
            demo_setup(work, embedder) if size == "demo" else big_setup(work, embedder, int(size))
        )
        results[size] = run(publisher, embedder, args.rounds)
        print(json.dumps({size: results[size]}, indent=2), flush=True)


if __name__ == "__main__":
    main()
