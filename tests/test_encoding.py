"""The batching encoder: concurrent requests share a model call, and callers that gave up
are not encoded."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from bot.dialogue.encoding import BatchingEncoder
from retrieval.embedding import HashEmbedder, SentenceEmbedder, Vectors


class HeldEmbedder(HashEmbedder):
    """Records each batch; the first batch waits until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.batches.append(list(texts))
        if len(self.batches) == 1:
            self.started.set()
            self.release.wait(5)
        return super().encode(texts)


async def test_requests_queued_during_a_call_go_together_and_dropped_ones_are_skipped() -> None:
    embedder = HeldEmbedder()
    encoder = BatchingEncoder(embedder)
    try:
        first = asyncio.ensure_future(encoder.encode("vpn error 809"))
        await asyncio.to_thread(embedder.started.wait, 5)
        queued = [asyncio.ensure_future(encoder.encode(t)) for t in ("printer", "wifi", "mfa")]
        await asyncio.sleep(0)
        queued[1].cancel()  # this caller moved on (a retried delivery, a person took over)
        embedder.release.set()
        vectors = await asyncio.gather(first, queued[0], queued[2])
        assert embedder.batches == [["vpn error 809"], ["printer", "mfa"]]
        expected = HashEmbedder().encode(["vpn error 809", "printer", "mfa"])
        assert np.allclose(np.vstack(vectors), expected)
    finally:
        embedder.release.set()
        encoder.close()


class SurrogateRefusingEmbedder(HashEmbedder):
    """Fails a whole batch when any text holds a lone surrogate, as the model's tokenizer does."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.batches.append(list(texts))
        if len(self.batches) == 1:
            self.started.set()
            self.release.wait(5)
        for text in texts:
            text.encode("utf-8")  # UnicodeEncodeError on a lone surrogate
        return super().encode(texts)


async def test_one_bad_input_fails_only_its_own_caller_in_a_shared_batch() -> None:
    embedder = SurrogateRefusingEmbedder()
    encoder = BatchingEncoder(embedder)
    good = [f"how do I connect to the VPN from home {n}" for n in range(20)]
    try:
        first = asyncio.ensure_future(encoder.encode("warm"))
        await asyncio.to_thread(embedder.started.wait, 5)
        # 20 good questions and one bad queue up behind the first call: one batch of 21
        calls = [asyncio.ensure_future(encoder.encode(t)) for t in [*good[:10], "\ud83d vpn"]]
        calls += [asyncio.ensure_future(encoder.encode(t)) for t in good[10:]]
        embedder.release.set()
        results = await asyncio.gather(first, *calls, return_exceptions=True)
        assert len(embedder.batches[1]) == 21  # they did share a batch
        failures = [r for r in results if isinstance(r, BaseException)]
        assert len(failures) == 1 and isinstance(failures[0], UnicodeEncodeError)
        assert isinstance(results[11], UnicodeEncodeError)  # the bad one's own caller
        vectors = [r for r in results[1:] if not isinstance(r, BaseException)]
        assert np.allclose(np.vstack(vectors), HashEmbedder().encode(good))
    finally:
        embedder.release.set()
        encoder.close()


@pytest.mark.slow
async def test_the_models_failure_on_one_input_stays_with_that_input(
    real_embedder: SentenceEmbedder,
) -> None:
    """The tokenizer refuses a lone surrogate (the edge cleans them away; this is the encoder's
    own guard, for whatever else a model may refuse)."""
    with pytest.raises(TypeError):  # "TextEncodeInput must be Union[...]"
        real_embedder.encode(["\ud83d vpn"])
    encoder = BatchingEncoder(real_embedder)
    texts = [f"how do I connect to the VPN from home ({n})" for n in range(20)]
    try:
        results = await asyncio.gather(
            *(encoder.encode(t) for t in [*texts[:10], "\ud83d vpn", *texts[10:]]),
            return_exceptions=True,
        )
    finally:
        encoder.close()
    assert [isinstance(r, BaseException) for r in results] == [False] * 10 + [True] + [False] * 10
    good = [r for r in results if not isinstance(r, BaseException)]
    assert np.allclose(np.vstack(good), real_embedder.encode(texts), atol=1e-5)
