"""Every built-in method registers with a config class; the shipped defaults validate."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sycolab.methods import expand_grid, get_method, method_names
from sycolab.methods.defaults import REFERENCE_DEFAULTS, TINY_DEFAULTS

BUILT_IN = ["cai_dpo", "cai_sl", "dpo", "grpo", "ipo", "refree_ipo", "reward_model", "sft", "simpo"]


def test_builtin_methods_and_their_specs():
    assert method_names() == BUILT_IN
    assert get_method("grpo").needs == ("reward_model",)
    assert get_method("reward_model").produces_causal_lm is False
    assert all(get_method(m).produces_causal_lm for m in BUILT_IN if m != "reward_model")
    assert all(get_method(m).description for m in BUILT_IN)


def test_looking_up_methods_and_validating_configs_does_not_import_torch_or_trl():
    code = ("import sys; from sycolab.methods import expand_grid, method_names; method_names(); "
            "expand_grid('grpo', {'beta': [0.0, 0.04]}); print(sorted({'torch', 'trl'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("defaults", [TINY_DEFAULTS, REFERENCE_DEFAULTS], ids=["tiny", "reference"])
def test_shipped_defaults_validate(defaults):
    for entry, raw in defaults.items():
        body = dict(raw)
        method = body.pop("method", entry)
        assert expand_grid(method, body, where=entry), entry


def test_reference_ipo_sweep_is_beta_by_learning_rate():
    names = [name for name, _ in expand_grid("ipo", dict(REFERENCE_DEFAULTS["ipo"]))]
    assert names == [f"ipo[beta={b},lr={lr}]" for b in (0.1, 0.5, 1.0) for lr in ("2e-05", "5e-06")]


def test_tiny_yaml_trains_with_the_tiny_defaults():
    """configs/tiny.yaml spells out TINY_DEFAULTS (the tuned values); the two must not drift apart."""
    from pathlib import Path

    from sycolab.config import load_config, method_config, recover_cells

    cfg = load_config(Path(__file__).parents[2] / "configs" / "tiny.yaml")

    def tuned(entry: str):
        raw = dict(TINY_DEFAULTS[entry])
        [(_, config)] = expand_grid(raw.pop("method", entry), raw, where=entry)
        return config.model_dump()

    assert method_config("sft", cfg.base.train, "base.train").model_dump() == tuned("base")
    assert method_config("sft", cfg.induce, "induce").model_dump() == tuned("induce")
    cells = {c.name: c.config.model_dump() for c in recover_cells(cfg)}
    assert cells == {entry: tuned(entry) for entry in cells}
    assert set(cells) == set(TINY_DEFAULTS) - {"base", "induce"}
