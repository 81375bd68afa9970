"""configure_torch: the thread count and deterministic kernels every training stage starts with."""

from __future__ import annotations

import torch

from sycolab.config.sections import ExecutionConfig
from sycolab.study.launch import configure_torch


def test_configure_torch_fixes_threads_and_asks_for_deterministic_kernels() -> None:
    before_threads, before_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        configure_torch(ExecutionConfig(torch_threads=1).torch_threads)
        assert torch.get_num_threads() == 1
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        configure_torch(None)  # null leaves the thread count alone
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before_threads)
        torch.use_deterministic_algorithms(before_det)


def test_torch_threads_must_be_positive() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ExecutionConfig(torch_threads=0)
