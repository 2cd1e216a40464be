"""Batches concurrent encoder calls: while the model encodes one batch, new requests queue up
and go together in the next. A lone request waits for nothing. When a batch fails, its items
are encoded one by one, so a failure reaches only the caller whose input caused it."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from retrieval.embedding import Embedder, Vector


class BatchingEncoder:
    def __init__(self, embedder: Embedder, max_batch: int = 64) -> None:
        self.embedder = embedder
        self.max_batch = max_batch
        self._pending: list[tuple[str, asyncio.Future[Vector]]] = []
        self._worker: asyncio.Task[None] | None = None
        # One thread: the model parallelises internally; two batches at once only contend.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder")

    async def encode(self, text: str) -> Vector:
        future: asyncio.Future[Vector] = asyncio.get_running_loop().create_future()
        self._pending.append((text, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            batch = [(t, f) for t, f in batch if not f.cancelled()]  # callers that moved on
            if not batch:
                continue
            texts = [t for t, _ in batch]
            try:
                vectors = await loop.run_in_executor(self._executor, self.embedder.encode, texts)
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    continue
                # One bad input must not fail the others' turns: each goes again on its own,
                # so only the item that fails by itself gets the failure.
                for text, future in batch:
                    try:
                        (vector,) = await loop.run_in_executor(
                            self._executor, self.embedder.encode, [text]
                        )
                    except Exception as alone:
                        _settle(future, alone)
                    else:
                        _settle(future, vector)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                _settle(future, vector)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _settle(future: asyncio.Future[Vector], outcome: Vector | BaseException) -> None:
    if future.done():  # the caller moved on
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
