"""The batching encoder: concurrent requests share a model call, and callers that gave up
are not encoded."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np

from bot.dialogue.encoding import BatchingEncoder
from retrieval.embedding import HashEmbedder, Vectors


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
