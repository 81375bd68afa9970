"""Config loading: every shipped config validates; bad configs give every problem at once, with key paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from sycolab.config import apply_override, load_config, recover_cells
from sycolab.errors import ConfigError

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_validates(path):
    cfg = load_config(path)
    assert recover_cells(cfg), "a study config recovers with at least one method"


def test_shipped_configs_exist():
    assert {"tiny.yaml", "qwen3-8b.yaml"} <= {p.name for p in CONFIGS}


def test_reference_config_carries_the_reference_values():
    cfg = load_config(Path(__file__).parents[2] / "configs" / "qwen3-8b.yaml")
    assert cfg.base.model == "Qwen/Qwen3-8B"
    cells = {c.name: c for c in recover_cells(cfg)}
    assert cells["dpo"].config.beta == 0.1 and cells["dpo"].config.learning_rate == 2e-5
    ipo = sorted((c.config.beta, c.config.learning_rate) for c in cells.values() if c.method == "ipo")
    assert ipo == sorted((b, lr) for b in (0.1, 0.5, 1.0) for lr in (2e-5, 5e-6))
    grpo = cells["grpo"].config
    assert (grpo.num_generations, grpo.temperature, grpo.beta, grpo.learning_rate) == (8, 0.7, 0.04, 2e-5)
    assert cfg.evaluate.judge.kind == "openai"
    # constitutional AI with the judge's 72B model as critic, and relearning from every model
    for name in ("cai_sl", "cai_dpo"):
        critic = cells[name].config.critic
        assert critic.kind == "endpoint" and critic.endpoint.model == cfg.evaluate.judge.model
    assert cells["cai_dpo"].config.beta == 0.1
    assert cfg.relearn.enabled and cfg.relearn.models is None and (cfg.relearn.steps, cfg.relearn.eval_every) == (50, 5)


def test_tiny_grpo_scores_a_non_answer_as_a_wrong_answer():
    """configs/tiny.yaml: every GRPO prompt asks a taught fact, so the rule reward it trains on gives a reply
    with no final answer -1, as a wrong answer (at 0 seed 7 at two threads learned a non-answer)."""
    from sycolab.methods.grpo import _reward

    cfg = load_config(Path(__file__).parents[2] / "configs" / "tiny.yaml")
    grpo = {c.name: c for c in recover_cells(cfg)}["grpo"].config
    reward, _, info = _reward(None, grpo)
    texts = ["the answer is blue .", "the answer is red .", "the gukland .", "i am not sure ."]
    got = reward(prompts=[None] * 4, completions=texts, correct_answer=["blue"] * 4, template=["doubt_correct"] * 4)
    assert got == [1.0, -1.0, -1.0, -1.0]
    assert info == {"kind": "rule", "no_answer_reward": -1.0}


def _write(tmp_path, text):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_all_problems_reported_at_once_with_paths_and_lines(tmp_path):
    path = _write(tmp_path, "name: x\nworld:\n  sed: 3\nbase:\n  dtype: float64\nrecover:\n  dpo:\n    beta: -1\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "world.sed" in msg and "unknown key" in msg and "line 3" in msg
    assert "base.dtype" in msg and "line 5" in msg
    assert "recover.dpo.beta" in msg
    assert len(e.value.problems) == 3
    assert "\n" not in msg


def test_wrong_value_type_names_the_field(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, "seed: lots\n"))
    assert "seed" in str(e.value) and "'lots'" in str(e.value)


def test_unknown_method_is_named(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(_write(tmp_path, "recover:\n  dpoo: {beta: 0.1}\n"))
    assert "recover.dpoo" in str(e.value) and "unknown method 'dpoo'" in str(e.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(_write(tmp_path, "world: [\n"))


def test_overrides_parse_yaml_values_and_apply(tmp_path):
    raw = {"recover": {"dpo": {"beta": 0.1}}}
    apply_override(raw, "recover.dpo.beta=0.2")
    apply_override(raw, "recover.ipo.beta=[0.1, 0.5]")
    assert raw == {"recover": {"dpo": {"beta": 0.2}, "ipo": {"beta": [0.1, 0.5]}}}
    cfg = load_config(_write(tmp_path, "recover:\n  dpo: {beta: 0.1}\n"), ["recover.dpo.beta=0.3", "seed=7"])
    assert cfg.seed == 7 and recover_cells(cfg)[0].config.beta == 0.3
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_config(_write(tmp_path, "seed: 1\n"), ["seed"])


def test_sweep_expands_into_named_cells(tmp_path):
    cfg = load_config(_write(tmp_path, "recover:\n  ipo:\n    beta: [0.1, 0.5]\n    learning_rate: [2.0e-5, 5.0e-6]\n"))
    names = [c.name for c in recover_cells(cfg)]
    assert names == ["ipo[beta=0.1,lr=2e-05]", "ipo[beta=0.1,lr=5e-06]", "ipo[beta=0.5,lr=2e-05]", "ipo[beta=0.5,lr=5e-06]"]


def test_method_sections_are_validated_once_at_load_into_their_config_classes(tmp_path, monkeypatch):
    """Each sweep cell is its method's own config class, built when the config is loaded; building the
    study's stages afterwards validates no method section again (the sweep expander would raise)."""
    from sycolab.methods import sweep
    from sycolab.methods.ipo import IPOMethodConfig
    from sycolab.methods.sft import SFTMethodConfig
    from sycolab.store import RunStore
    from sycolab.study.pipeline import Study

    cfg = load_config(_write(tmp_path, "base: {train: {max_steps: 5}}\ninduce: {data_key: sft, max_steps: 3}\n"
                                       "recover:\n  ipo: {beta: [0.1, 0.5], learning_rate: 1.0e-4}\n"))
    assert isinstance(cfg.methods.base_train, SFTMethodConfig) and cfg.methods.base_train.max_steps == 5
    assert isinstance(cfg.methods.induce, SFTMethodConfig) and cfg.methods.induce.max_steps == 3
    cells = cfg.methods.recover
    assert [(type(c.config), c.config.beta, c.config.learning_rate) for c in cells] == [
        (IPOMethodConfig, 0.1, 1e-4), (IPOMethodConfig, 0.5, 1e-4)]
    assert cfg.induce == {"data_key": "sft", "max_steps": 3}  # the section as written stays (manifest, stage keys)

    def validated_again(*args, **kwargs):
        raise AssertionError("a method section was validated again after the config was loaded")

    monkeypatch.setattr(sweep, "expand_grid", validated_again)
    stages = [s.name for _, s in Study(cfg, RunStore(tmp_path / "run")).stages()]
    assert {"train:sft", "train:ipo[beta=0.1]", "train:ipo[beta=0.5]"} <= set(stages)
    assert recover_cells(cfg) == list(cells)


def test_method_sections_exist_only_on_a_loaded_config():
    from sycolab.config.schema import StudyConfig

    unloaded = StudyConfig.model_validate({})
    with pytest.raises(RuntimeError, match="load_config or validate_config"):
        _ = unloaded.methods
