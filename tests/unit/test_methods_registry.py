"""Every built-in method registers with a config class; the shipped configs' method sections use them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sycolab.config import load_config, recover_cells
from sycolab.methods import get_method, method_names
from sycolab.methods.registry import find_method, produces_causal_lm

CONFIGS = Path(__file__).parents[2] / "configs"

BUILT_IN = ["cai_dpo", "cai_sl", "dpo", "grpo", "ipo", "refree_ipo", "reward_model", "sft", "simpo"]


def test_builtin_methods_and_their_specs():
    assert method_names() == BUILT_IN
    assert get_method("grpo").needs == ("reward_model",)
    assert get_method("reward_model").produces_causal_lm is False
    assert all(get_method(m).produces_causal_lm for m in BUILT_IN if m != "reward_model")
    assert all(get_method(m).description for m in BUILT_IN)


def test_each_method_registers_its_place_in_the_framework():
    """The reference study's axes (reporting/frameworks.py reads them; nothing else states them)."""
    traits = {m: (t.reference, t.loss, t.data) for m in BUILT_IN for t in [get_method(m).traits]}
    assert traits == {
        "dpo": ("ref", "saturating", "offline"),
        "cai_dpo": ("ref", "saturating", "offline"),
        "ipo": ("ref", "non-saturating", "offline"),
        "simpo": ("free", "saturating", "offline"),
        "refree_ipo": ("free", "non-saturating", "offline"),
        "grpo": ("ref (KL)", "-", "online"),
        "cai_sl": ("-", "-", "-"),
        "reward_model": ("-", "-", "-"),
        "sft": ("-", "-", "-"),
    }
    assert [m for m in BUILT_IN if get_method(m).traits.compares_to_reference_model] == ["cai_dpo", "dpo", "ipo"]


def test_unknown_methods_are_none_and_kept_as_causal_lms():
    assert find_method("mystery") is None
    assert produces_causal_lm("mystery") and produces_causal_lm("dpo") and not produces_causal_lm("reward_model")


def test_looking_up_methods_and_validating_configs_does_not_import_torch_or_trl():
    code = ("import sys; from sycolab.methods import expand_grid, method_names; method_names(); "
            "expand_grid('grpo', {'beta': [0.0, 0.04]}); print(sorted({'torch', 'trl'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_reference_ipo_sweep_is_beta_by_learning_rate():
    cells = recover_cells(load_config(CONFIGS / "qwen3-8b.yaml"))
    names = [c.name for c in cells if c.entry == "ipo"]
    assert names == [f"ipo[beta={b},lr={lr}]" for b in (0.1, 0.5, 1.0) for lr in ("2e-05", "5e-06")]


def test_tiny_config_trains_lora_adapters_kept_over_sft_and_merged_for_recovery():
    """docs/tuning.md: full fine-tuning at rates that move the tiny model erases the held-out facts, so the
    tiny study induces with a LoRA adapter kept over the base and recovers with adapters merged in."""
    cfg = load_config(CONFIGS / "tiny.yaml")
    assert cfg.methods.base_train.lora is None  # from scratch: every weight
    induce = cfg.methods.induce.lora
    assert induce is not None and induce.merge is False
    assert all(c.config.lora is not None and c.config.lora.merge for c in recover_cells(cfg)
               if get_method(c.method).produces_causal_lm)
