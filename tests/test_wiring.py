"""Process set-up done by the composition root."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from threadpoolctl import threadpool_info, threadpool_limits

from bot import wiring
from bot.db import make_engine
from bot.settings import Settings
from retrieval.embedding import Backend, HashEmbedder
from tests.clock import CLOCK
from tests.conftest import test_settings


def test_services_keep_blas_single_threaded(demo_url: str) -> None:
    """Spinning BLAS threads doubled the CPU per turn; the server must not start them."""
    with threadpool_limits(limits=2, user_api="blas"):  # restored afterwards
        wiring.services(
            test_settings(demo_url), make_engine(demo_url), HashEmbedder(), today=CLOCK.today
        )
        np.ones((64, 64)) @ np.ones(64)
        pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert pools and all(p["num_threads"] == 1 for p in pools)


def test_encoder_backend_is_a_setting() -> None:
    settings = Settings(DESKBOT_ENCODER_BACKEND=" ONNX-int8 ")  # type: ignore[call-arg]
    embedder = wiring.embedder(settings)
    assert settings.encoder_backend is Backend.ONNX_INT8 and embedder.backend is Backend.ONNX_INT8
    assert embedder.name.endswith("@onnx-int8")  # its own stored vectors


def test_unknown_encoder_backend_is_named_with_the_choices() -> None:
    expected = "DESKBOT_ENCODER_BACKEND must be one of torch, onnx, onnx-int8, not 'tensorrt'"
    with pytest.raises(ValidationError, match=expected):
        Settings(DESKBOT_ENCODER_BACKEND="tensorrt")  # type: ignore[call-arg]
