from __future__ import annotations

import numpy as np

from retrieval.fusion import FusionWeights, crowding, fuse


def brute_force(titles: np.ndarray, k: int) -> np.ndarray:
    sims = titles @ titles.T
    np.fill_diagonal(sims, -np.inf)
    return np.sort(sims, axis=1)[:, ::-1][:, :k].mean(axis=1)


def test_crowding_matches_brute_force_across_blocks() -> None:
    rng = np.random.default_rng(1)
    titles = rng.normal(size=(37, 8)).astype(np.float32)
    titles /= np.linalg.norm(titles, axis=1, keepdims=True)
    np.testing.assert_allclose(crowding(titles, 5, block=10), brute_force(titles, 5), rtol=1e-5)


def test_crowding_small_corpora() -> None:
    one = np.ones((1, 4), dtype=np.float32) / 2
    assert crowding(one, 20).tolist() == [0.0]
    two = np.eye(2, dtype=np.float32)
    assert crowding(two, 20).tolist() == [0.0, 0.0]


def test_crowded_article_loses_a_tie() -> None:
    """Same similarity to the query: the article in the crowded neighbourhood ranks lower."""
    q = np.array([0.8, 0.8])
    c = np.array([0.5, 0.5])
    scores = fuse(q, c, np.zeros(2), np.array([0.9, 0.2]), FusionWeights())
    assert scores[1] > scores[0]


def test_fuse_is_linear_in_its_weights() -> None:
    w = FusionWeights(question=2.0, content=0.5, hub=1.0, bm25=0.25)
    out = fuse(np.array([0.5]), np.array([0.4]), np.array([0.8]), np.array([0.3]), w)
    assert out[0] == 2.0 * 0.5 + 0.5 * 0.4 - 0.3 + 0.25 * 0.8
