"""Sweep expansion: list values of non-list fields become axes; names, order and error paths."""

from __future__ import annotations

import pytest

from sycolab.errors import ConfigError
from sycolab.methods import expand_grid, sweep_problems


def test_beta_by_learning_rate_grid_gives_six_named_cells_in_raw_key_order():
    cells = expand_grid("ipo", {"beta": [0.1, 0.5, 1.0], "learning_rate": [2e-5, 5e-6]})
    assert [name for name, _ in cells] == [
        "ipo[beta=0.1,lr=2e-05]", "ipo[beta=0.1,lr=5e-06]",
        "ipo[beta=0.5,lr=2e-05]", "ipo[beta=0.5,lr=5e-06]",
        "ipo[beta=1.0,lr=2e-05]", "ipo[beta=1.0,lr=5e-06]",
    ]
    assert [(c.beta, c.learning_rate) for _, c in cells][3] == (0.5, 5e-6)


def test_axis_order_follows_the_raw_mapping_not_the_config_class():
    [(name, _), *_] = expand_grid("ipo", {"learning_rate": [1e-3, 1e-4], "beta": [0.5]})
    assert name == "ipo[lr=0.001,beta=0.5]"


def test_no_list_gives_the_method_name_and_scalars_apply_to_every_cell():
    [(name, config)] = expand_grid("dpo", {"beta": 0.2})
    assert name == "dpo" and config.beta == 0.2
    assert [c.max_steps for _, c in expand_grid("dpo", {"beta": [0.1, 0.2], "max_steps": 7})] == [7, 7]


def test_list_typed_field_is_a_value_not_an_axis_and_nested_fields_sweep():
    cells = expand_grid("sft", {"lora": {"r": [4, 8], "target_modules": ["q_proj", "v_proj"]}})
    assert [name for name, _ in cells] == ["sft[lora.r=4]", "sft[lora.r=8]"]
    assert all(c.lora.target_modules == ["q_proj", "v_proj"] for _, c in cells)


def test_invalid_cell_value_names_its_key_path():
    with pytest.raises(ConfigError) as exc:
        expand_grid("ipo", {"beta": [0.5, -1]})
    assert exc.value.problems == ["recover.ipo.beta: expected a number > 0, got -1"]


def test_every_problem_is_collected_with_the_given_prefix():
    problems = sweep_problems(
        "grpo", {"learning_rate": [], "max_steps": "abc", "lora": {"target_modules": 5}}, where="recover.grpo_big"
    )
    assert problems == [
        "recover.grpo_big.learning_rate: expected a non-empty list of values to sweep, got []",
        "recover.grpo_big.max_steps: expected an integer, got 'abc'",
        "recover.grpo_big.lora.target_modules: expected a non-empty list of module names or 'all-linear', got 5",
    ]


def test_unknown_method_unknown_field_and_duplicate_cells():
    assert sweep_problems("nope", {})[0].startswith("recover.nope: unknown method 'nope' (known: cai_dpo, cai_sl, dpo, grpo")
    assert sweep_problems("dpo", {"betta": 0.1})[0].startswith("recover.dpo.betta: unknown field (known fields: ")
    assert sweep_problems("dpo", {"beta": [0.1, 0.1]}) == ["recover.dpo: sweep values give the cell 'dpo[beta=0.1]' twice"]
