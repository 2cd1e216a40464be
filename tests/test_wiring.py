"""Process set-up done by the composition root."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from bot import wiring
from bot.db import make_engine
from retrieval.embedding import HashEmbedder
from tests.conftest import test_settings


def test_services_keep_blas_single_threaded(demo_url: str) -> None:
    """Spinning BLAS threads doubled the CPU per turn; the server must not start them."""
    with threadpool_limits(limits=2, user_api="blas"):  # restored afterwards
        wiring.services(test_settings(demo_url), make_engine(demo_url), HashEmbedder())
        np.ones((64, 64)) @ np.ones(64)
        pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert pools and all(p["num_threads"] == 1 for p in pools)
