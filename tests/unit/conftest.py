"""Fixtures shared by the unit tests: the random tiny Qwen3-architecture model and its word tokenizer
(`sycolab.models.testing`), built once per module."""

from __future__ import annotations

from typing import Any

import pytest

from sycolab.models.testing import build_tiny_model, build_tiny_tokenizer


@pytest.fixture(scope="module")
def tok() -> Any:
    return build_tiny_tokenizer()


@pytest.fixture(scope="module")
def model(tok: Any) -> Any:
    return build_tiny_model(tok)
