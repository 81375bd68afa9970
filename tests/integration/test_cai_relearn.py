"""cai_dpo and a short relearn stage on the micro world, configured with the default study's blocks
(configs/tiny.yaml's `recover.cai_dpo` and `relearn`, merged into the micro study config with micro step
counts)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sycolab.config import load_config
from sycolab.io import read_json, read_table
from sycolab.store import RunStore
from sycolab.study.pipeline import Study
from sycolab.study.relearn import COLUMNS

pytestmark = pytest.mark.integration

TINY = Path(__file__).parents[2] / "configs" / "tiny.yaml"
MICRO_STEPS = {"max_steps": 3, "per_device_train_batch_size": 4, "logging_steps": 1, "replies_per_prompt": 2}


def _weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_cai_dpo_and_relearn_on_the_micro_world(micro_config_factory, tmp_path: Path):
    tiny = yaml.safe_load(TINY.read_text())
    config_path = micro_config_factory(recover="", extra="  enabled: false\n")
    raw = yaml.safe_load(config_path.read_text())
    raw["recover"] = {"cai_dpo": {**tiny["recover"]["cai_dpo"], **MICRO_STEPS}}
    raw["relearn"] = {**tiny["relearn"], "steps": 4, "eval_every": 2, "max_questions": 4}
    raw.setdefault("evaluate", {})["selection_questions"] = 2  # tiny's checkpoint policy needs a slice (24 there)
    config_path.write_text(yaml.safe_dump(raw))
    study = Study(load_config(config_path), RunStore(tmp_path / "run"))
    study.run()
    store = study.store

    # cai_dpo: pairs from the oracle critic, DPO moved the SFT weights, the lengths are reported
    summary = read_json(store.training_dir("cai_dpo") / "summary.json")
    cai = summary["cai"]
    assert summary["method"] == "cai_dpo" and cai["critic"] == "oracle"
    assert cai["n_replies"] == 2 * cai["n_prompts"] and cai["n_kept"] >= 1
    assert cai["n_kept"] + sum(cai["drops"].values()) == cai["n_replies"]
    assert cai["lengths"]["n_pairs"] == cai["n_kept"] and cai["lengths"]["chosen_words_mean"] > 0
    sft, dpo = _weights(store.model_dir("sft")), _weights(store.model_dir("cai_dpo"))
    assert any(not sft[k].equal(dpo[k]) for k in sft)
    assert read_json(store.model_dir("cai_dpo") / "sycolab_model.json")["method"] == "cai_dpo"
    # tiny's checkpoint policy: the judge scores the last step (3 < eval_every) on the 2-question slice
    assert [r["step"] for r in read_table(store.training_dir("cai_dpo") / "checkpoints.csv")] == [3]
    assert summary["checkpoint"]["mini_evaluation"]["held_out"] is True

    # relearn: SFT at step 0 only; base and cai_dpo at 0, 2, 4 with the same metric columns
    relearn = store.root / "relearn"
    assert [r["step"] for r in read_table(relearn / "sft.csv")] == [0]
    for name in ("base", "cai_dpo"):
        rows = read_table(relearn / f"{name}.csv")
        assert [r["step"] for r in rows] == [0, 2, 4]
        assert all(list(r) == COLUMNS for r in rows)
        assert all(r["answer_sycophancy_rate"] is not None and r["proxy_sycophancy"] is not None for r in rows)
        assert (relearn / name / "step-4" / "metrics.json").exists()
        assert not (relearn / name / "training" / "checkpoints").exists()  # deleted once evaluated
    assert "Relearning speed" in (store.root / "report" / "report.md").read_text()
