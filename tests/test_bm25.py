from __future__ import annotations

import numpy as np
from rank_bm25 import BM25Okapi

from bot.settings import DEMO_KB_PATH, DEMO_QUESTIONS_PATH
from retrieval.bm25 import Bm25Index
from retrieval.evaluation import load_queries
from retrieval.index import ArticleTerms
from retrieval.loader import load_path
from retrieval.text import tokenize

DOCS = [
    "Connect to the VPN from home with the VPN client",
    "Add the follow-me printer and print from a Mac",
    "Reset a forgotten password with the self-service page",
    "VPN error 809 means the network blocks VPN traffic",
    "",
]


def test_scores_equal_rank_bm25() -> None:
    tokens = [tokenize(d) for d in DOCS]
    index = Bm25Index(tokens)
    reference = BM25Okapi([t or ["\x00"] for t in tokens])
    for query in ["vpn error 809", "printer mac mac", "password", "nothing matches"]:
        q = tokenize(query)
        np.testing.assert_allclose(index.scores(q), reference.get_scores(q), rtol=1e-9)


def test_scores_equal_rank_bm25_on_the_demo_knowledge_base() -> None:
    """Real articles and every labeled question: the sparse matrix gives rank-bm25's scores."""
    documents = [ArticleTerms.of(a).tokens for a in load_path(DEMO_KB_PATH).articles]
    index = Bm25Index(documents)
    reference = BM25Okapi(documents)
    queries = [tokenize(q.query) for q in load_queries(DEMO_QUESTIONS_PATH)]
    assert len(documents) > 50 and len(queries) > 250
    for q in queries:
        np.testing.assert_allclose(index.scores(q), reference.get_scores(q), rtol=1e-9, atol=1e-12)


def test_ceiling_bounds_every_score() -> None:
    index = Bm25Index([tokenize(d) for d in DOCS])
    q = tokenize("vpn 809 network")
    assert index.scores(q).max() <= index.ceiling(q)
    assert index.ceiling([]) == 0.0


def test_tokenize_keeps_codes_and_drops_function_words() -> None:
    assert tokenize("How do I fix error 0x80070005 on my VPN?") == [
        "fix",
        "error",
        "0x80070005",
        "vpn",
    ]
    assert tokenize("printers printing") == ["printer", "print"]


def test_empty_corpus() -> None:
    assert Bm25Index([]).scores(["x"]).shape == (0,)


def test_idf_ranks_unknown_above_rare_above_common() -> None:
    index = Bm25Index([tokenize(d) for d in DOCS])
    unknown, rare, common = (index.idf(t) for t in tokenize("strikethrough 809 vpn"))
    assert unknown > rare > common > 0
