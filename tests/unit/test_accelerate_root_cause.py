"""The root cause of a failed `accelerate launch`: the traceback the first failing rank wrote to its own file
(the ranks' shared stderr interleaves their lines), else the first traceback in stderr."""

from __future__ import annotations

import os
from pathlib import Path

from sycolab.study.accelerate_launch import root_cause


def test_the_rank_that_failed_first_is_the_root_cause(tmp_path: Path):
    stderr = tmp_path / "stderr.log"
    stderr.write_text("Traceback (most recent call last):\nKeyErrorKeyError: : 'x''x'\n")  # two ranks at once
    first, later = tmp_path / "rank1.traceback.txt", tmp_path / "rank0.traceback.txt"
    first.write_text("Traceback (most recent call last):\n  File \"m.py\"\nKeyError: 'no_such_method'\n")
    later.write_text("Traceback (most recent call last):\nRuntimeError: connection closed by peer\n")
    os.utime(first, ns=(1_000_000_000, 1_000_000_000))
    os.utime(later, ns=(2_000_000_000, 2_000_000_000))
    where, excerpt = root_cause(tmp_path, stderr)
    assert where == first and excerpt.endswith("KeyError: 'no_such_method'")


def test_without_rank_files_the_first_traceback_in_stderr_is_used(tmp_path: Path):
    stderr = tmp_path / "stderr.log"
    stderr.write_text("noise\nTraceback (most recent call last):\n  File \"run\"\nOSError: port in use\nmore\n")
    where, excerpt = root_cause(tmp_path, stderr)
    assert where == stderr and excerpt.splitlines() == ["Traceback (most recent call last):", '  File "run"',
                                                        "OSError: port in use"]
