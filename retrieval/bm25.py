"""BM25 over whole articles.

rank-bm25 computes the corpus statistics (Okapi BM25 with its idf floor); the per-term weights
are then laid out once as a sparse term x document matrix, so a query costs a few sparse row
reads instead of a Python loop over every document (rank-bm25's `get_scores`), with the same
scores.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from rank_bm25 import BM25Okapi
from scipy import sparse

Scores = npt.NDArray[np.float64]

K1 = 1.5
B = 0.75


class Bm25Index:
    def __init__(self, documents: Sequence[Sequence[str]], k1: float = K1, b: float = B) -> None:
        self.size = len(documents)
        self._k1 = k1
        self._vocabulary: dict[str, int] = {}
        self._idf: dict[str, float] = {}
        self._df: Counter[str] = Counter(t for d in documents for t in set(d))
        if not documents or not any(documents):
            self._weights = sparse.csr_matrix((0, self.size))
            return
        # rank-bm25 cannot take an empty document; a placeholder token keeps positions aligned.
        okapi = BM25Okapi([list(d) or ["\x00"] for d in documents], k1=k1, b=b)
        self._idf = dict(okapi.idf)
        doc_len = np.asarray(okapi.doc_len, dtype=np.float64)
        norm = k1 * (1 - b + b * doc_len / okapi.avgdl)
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        for doc, freqs in enumerate(okapi.doc_freqs):
            for term, tf in freqs.items():
                index = self._vocabulary.setdefault(term, len(self._vocabulary))
                rows.append(index)
                cols.append(doc)
                values.append(self._idf[term] * tf * (k1 + 1) / (tf + norm[doc]))
        self._weights = sparse.csr_matrix(
            (values, (rows, cols)), shape=(len(self._vocabulary), self.size), dtype=np.float64
        )

    def scores(self, query: Sequence[str]) -> Scores:
        """Okapi BM25 of the query against every document (repeated terms count again)."""
        counts = Counter(t for t in query if t in self._vocabulary)
        if not counts:
            return np.zeros(self.size)
        ids = [self._vocabulary[t] for t in counts]
        weights = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        return np.asarray(weights @ self._weights[ids].toarray()).ravel()

    def document_weights(self, doc: int) -> dict[str, float]:
        """One document's per-term weights (its column), to score many queries against it."""
        column = self._weights.getcol(doc).tocoo()
        terms = list(self._vocabulary)
        return {terms[r]: float(v) for r, v in zip(column.row, column.data, strict=True)}

    def ceiling(self, query: Sequence[str]) -> float:
        """An upper bound of any document's score for this query, to put scores on a 0..1
        scale that means the same for short and long queries."""
        return sum(max(self._idf.get(t, 0.0), 0.0) for t in query) * (self._k1 + 1)

    def idf(self, term: str) -> float:
        """How specific a term is: a smoothed idf, always positive. A term no article uses
        gets the highest weight, since a question about something the knowledge base never
        mentions is most likely one it cannot answer."""
        n = self._df.get(term, 0)
        return math.log(1 + self.size / (1 + n))

    def known(self, term: str) -> bool:
        return term in self._vocabulary
