"""Fusion of the dense and BM25 evidence into one ranking score. Pure functions over arrays.

    score(q, a) = question * cos_question(q, a) + content * cos_content(q, a)
                  - hub * crowding(a) + bm25 * bm25(q, a) / ceiling(q)

- cos_question: best cosine to the title or an alternative phrasing (how the need is asked);
  cos_content: best cosine to the short answer or a title-prefixed body chunk (what the
  article says). Queries that paraphrase the question and queries that describe the
  situation both land; each view alone ranks worse than the sum.
- crowding(a): the mean cosine of a's title to its `hub_neighbours` nearest other titles.
  Articles in a crowded neighbourhood ("hubs") otherwise win queries meant for their
  neighbours; subtracting it is the CSLS correction of Conneau et al. (2018).
- bm25 / ceiling: lexical evidence on a 0..1 scale (see `Bm25Index.ceiling`); it carries
  exact tokens the embedding blurs (error codes, product names).

The weights are fitted on data (`bench/tune_fusion.py`, a grid scored by P@1 on StackFAQ-dev
and on the demo question set, ranked by the mean). On StackFAQ-dev they give P@1 0.966 against
0.963 for dense retrieval alone (best passage) and 0.651 for BM25; on the demo set 0.937
against 0.884 and 0.709. The optimum is broad (hub 0.25-0.75 and bm25 0.2-0.5 stay within
about a point), which is why it should transfer to other knowledge bases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.floating]


@dataclass(frozen=True)
class FusionWeights:
    question: float = 1.0
    content: float = 1.0
    hub: float = 0.5
    bm25: float = 0.3
    hub_neighbours: int = 10


DEFAULT_WEIGHTS = FusionWeights()


def crowding(titles: npt.NDArray[np.float32], neighbours: int, block: int = 2048) -> Array:
    """Mean cosine of each row to its `neighbours` most similar other rows (0 for a lone row).

    Computed block by block so 10,000 articles never need a 10,000 x 10,000 matrix at once.
    """
    n = titles.shape[0]
    k = min(neighbours, n - 1)
    if k <= 0:
        return np.zeros(n, dtype=np.float32)
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, block):
        sims = titles[start : start + block] @ titles.T
        rows = np.arange(sims.shape[0])
        sims[rows, rows + start] = -np.inf  # not its own neighbour
        top = np.partition(sims, n - k, axis=1)[:, n - k :]
        out[start : start + block] = top.mean(axis=1)
    return out


def fuse(
    question_sim: Array,
    content_sim: Array,
    bm25_norm: Array,
    hub: Array,
    weights: FusionWeights = DEFAULT_WEIGHTS,
) -> Array:
    return np.asarray(
        weights.question * question_sim
        + weights.content * content_sim
        - weights.hub * hub
        + weights.bm25 * bm25_norm
    )
