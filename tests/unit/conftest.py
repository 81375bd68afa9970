"""Fixtures shared by the unit tests: the random tiny Qwen3-architecture model and its word tokenizer
(`sycolab.models.testing`), and the generated tiny world (seed: the test module's `WORLD_SEED`, default 0),
built once per module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sycolab.models.testing import build_tiny_model, build_tiny_tokenizer
from sycolab.world import World, WorldConfig, generate_world, load_world


@pytest.fixture(scope="module")
def tok() -> Any:
    return build_tiny_tokenizer()


@pytest.fixture(scope="module")
def model(tok: Any) -> Any:
    return build_tiny_model(tok)


@pytest.fixture(scope="module")
def world_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    seed = getattr(request.module, "WORLD_SEED", 0)
    out = tmp_path_factory.mktemp(f"world{seed}")
    generate_world(WorldConfig(seed=seed), out)
    return out


@pytest.fixture(scope="module")
def world(world_dir: Path) -> World:
    return load_world(world_dir)
