"""Checks of a study's inputs outside the config file, run before the first stage: every data file the
config names parses (a malformed line fails the study at once, not after hours of training); the base
model, an hf judge's model and the accelerate config exist; the judge's API key variable is set when a
judge will run; probe layers fit a hub model whose config.json is already local. All problems are
reported together, each with the config's file, line and key."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sycolab.config import config_error
from sycolab.config.checks import Problem, local_layer_count, probe_layer_problems
from sycolab.errors import UserError
from sycolab.io import iter_jsonl

if TYPE_CHECKING:
    from sycolab.study.pipeline import Study

JUDGED_GROUPS = {"eval", "probe"}  # probing measures steered behaviour with the judge


def check_inputs(study: Study, groups: set[str] | None = None) -> None:
    """Raise one ConfigError listing every input problem of `study` (for the stage `groups`, None = all)."""
    problems = data_problems(study) + environment_problems(study, groups)
    if problems:
        raise config_error(study.cfg, problems)


def data_problems(study: Study) -> list[Problem]:
    """Parse every data file the config names; each failure under its `data.<name>` key. A reader's module is
    imported only when its file is given (the TRL formats import `datasets`, and with it torch)."""
    readers: dict[str, Callable[[Path], Any]] = {
        "answer": _reader("sycolab.data.sycophancy_eval", "load_eval_file", "answer"),
        "are_you_sure": _reader("sycolab.data.sycophancy_eval", "load_eval_file", "are_you_sure"),
        "feedback": _reader("sycolab.data.sycophancy_eval", "load_eval_file", "feedback"),
        "sft": _reader("sycolab.data.trl_formats", "read_sft_rows"),
        "preference": _reader("sycolab.data.trl_formats", "read_preference_rows"),
        "preference_heldout": _reader("sycolab.data.trl_formats", "read_preference_rows"),
        "grpo_prompts": _reader("sycolab.data.trl_formats", "read_prompt_rows"),
        "proxy": _reader("sycolab.study.inputs", "_read_proxy_items"),
    }
    problems: list[Problem] = []
    for name, reader in readers.items():
        if getattr(study.cfg.data, name):
            try:
                reader(study.data.path(name))
            except UserError as e:
                problems.append((("data", name), str(e).removeprefix(f"data.{name}: ")))
    return problems


def _reader(module: str, function: str, *args: Any) -> Callable[[Path], Any]:
    """`module.function(path, *args)`, importing `module` at the call."""
    return lambda path: getattr(importlib.import_module(module), function)(path, *args)


def _read_proxy_items(path: Path) -> list[Any]:
    from sycolab.evaluation.proxy import ProxyItem

    return [ProxyItem.from_mapping(row, f"{path}:{line}") for line, row in iter_jsonl(path)]


def environment_problems(study: Study, groups: set[str] | None = None) -> list[Problem]:
    """Models, files and environment variables the stages in `groups` (None = all) will need."""
    cfg = study.cfg
    problems: list[Problem] = []
    judge = cfg.evaluate.judge
    judged = groups is None or bool(groups & JUDGED_GROUPS)
    if judged and judge.kind == "openai" and judge.api_key_env and not os.environ.get(judge.api_key_env):
        problems.append((("evaluate", "judge", "api_key_env"), f"environment variable {judge.api_key_env} is not set "
                         "or empty (export the judge's API key in it, or remove api_key_env for a server without auth)"))
    if not cfg.uses_tiny_world and model_missing(cfg.base.model):
        problems.append((("base", "model"), f"'{cfg.base.model}' not found: give a checkpoint folder, a Hugging "
                         "Face model id (org/name), or tiny"))
    if judged and judge.kind == "hf" and judge.model_path and model_missing(judge.model_path):
        problems.append((("evaluate", "judge", "model_path"), f"'{judge.model_path}' not found: give a checkpoint "
                         "folder or a Hugging Face model id (org/name)"))
    if cfg.execution.launcher == "accelerate" and cfg.execution.accelerate_config:
        from sycolab.study.accelerate_launch import resolve_accelerate_config

        try:
            resolve_accelerate_config(cfg.execution.accelerate_config)
        except UserError as e:
            problems.append((("execution", "accelerate_config"), str(e).split(": ", 1)[1]))
    if cfg.probe.enabled and not cfg.uses_tiny_world and (groups is None or "probe" in groups):
        n_layers = local_layer_count(cfg.base.model)
        if n_layers is not None:
            problems += probe_layer_problems(cfg.probe, n_layers, f"num_hidden_layers of {cfg.base.model}")
    return problems


def model_missing(model: str) -> bool:
    """True when `model` is neither an existing path nor shaped like a hub id (org/name)."""
    from sycolab.models.load import _looks_like_hub_id

    return not Path(model).expanduser().exists() and not _looks_like_hub_id(model)
