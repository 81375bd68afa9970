"""A study over seeds shares the cores through CPU slots (`sycolab.study.cpu_slots`): seeds interleave their
stages, and a seed's models are the floats the same seed trains alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from safetensors.torch import load_file

pytestmark = pytest.mark.integration


def _run(cfg, run_dir, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "sycolab.cli.main", "run", str(cfg), "--run-dir", str(run_dir),
                          "--stages", "world,base,induce", *args], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out.stdout


def test_seeds_sharing_one_slot_train_the_models_each_seed_trains_alone(micro_config_factory, tmp_path):
    """Seeds 0 and 1 with one CPU slot (`--parallel 1`: both processes alive, one stage computing at a time);
    seed 1's base and SFT weights equal those of seed 1 run alone, tensor for tensor, and so do their digests."""
    cfg = micro_config_factory(extra="seeds: [0, 1]\n")
    out = _run(cfg, tmp_path / "run", "--parallel", "1")
    assert "(1 stages computing at once, 1 torch thread each)" in out.splitlines()[0]
    assert sorted(p.name for p in (tmp_path / "run" / "cpu-slots").glob("slot-*")) == ["slot-0.lock"]
    _run(cfg, tmp_path / "alone", "--set", "seed=1", "--set", "world.seed=1", "--set", "seeds=[]")
    for model in ("base", "sft"):
        shared, alone = tmp_path / "run" / "seed-1" / "models" / model, tmp_path / "alone" / "models" / model
        weights = [load_file(folder / "model.safetensors") for folder in (shared, alone)]
        assert weights[0].keys() == weights[1].keys()
        assert all((weights[0][k] == weights[1][k]).all() for k in weights[0]), model
        digests = [json.loads((folder / "sycolab_model.json").read_text())["weights_sha256"] for folder in (shared, alone)]
        assert digests[0] == digests[1]  # two run dirs, one function: one digest
