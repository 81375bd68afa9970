"""What every training method shares: the config base, TRL argument building, loading and saving models.

`TrainingConfig` is the pydantic base of every method's config (`extra="forbid"`); a method subclasses it
and adds its own fields. The helpers below turn a config and a `MethodContext` into TRL arguments, load the
input model, and export the trained model into the run store with its `sycolab_model.json` card
(docs/architecture.md). Heavy libraries (torch, transformers, trl, peft) are imported inside the functions
that need them, so importing a method module to validate a config stays fast.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sycolab.errors import ConfigError, UserError
from sycolab.io import atomic_dir, atomic_write_json, read_jsonl
from sycolab.methods.registry import MethodContext

if TYPE_CHECKING:
    from datasets import Dataset
    from peft import PeftModel
    from transformers import PreTrainedTokenizerBase, Trainer, TrainingArguments

    from sycolab.models.load import CausalLM

MODEL_CARD = "sycolab_model.json"
TrainingArgs = TypeVar("TrainingArgs", bound="TrainingArguments")


class LoraSettings(BaseModel):
    """Low-rank adapters (PEFT LoRA, Hu et al. 2021) instead of full fine-tuning."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, gt=0, description="Rank of the update matrices.")
    alpha: int = Field(32, gt=0, description="LoRA scaling numerator: the update is scaled by alpha / r.")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the adapter input.")
    target_modules: list[str] | str = Field(
        "all-linear",
        description="Module names to adapt, or 'all-linear' (every linear layer except the output head).",
    )
    merge: bool = Field(
        True,
        description="Merge the adapter into full weights when saving (true), or keep the folder as an adapter "
        "whose base model is recorded in sycolab_model.json and adapter_config.json (false).",
    )

    @field_validator("target_modules", mode="before")
    @classmethod
    def _check_targets(cls, value: Any) -> Any:
        if value == "all-linear" or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            return value
        raise ValueError(f"expected a non-empty list of module names or 'all-linear', got {show_value(value)}")


JUDGED_SELECTION_METRICS = ("answer_sycophancy_rate", "answer_sycophancy_gap", "seed.answer_sycophancy_rate",
                            "aggregate_sycophancy", "seed.aggregate_sycophancy")
"""Judged metrics a checkpoint may be kept by (lower is better for each)."""


class CheckpointPolicy(BaseModel):
    """Mid-training evaluation and which checkpoint becomes the method's model.

    Every `eval_every` optimiser steps (and at the last step) the live model gets a judged mini-evaluation
    (generation + the study's judge on the first `eval_questions` questions of the evaluation sets) and
    the logit proxy on the same questions; both curves go to `training/<name>/checkpoints.csv`. The best
    checkpoint so far by `select_by` (`judged_metric` or `proxy_metric`, lower is better) is saved in
    `training/<name>/best/`, outside TRL's checkpoint folder, so `save_total_limit` rotation can never
    delete it (the reference study lost its best GRPO checkpoint that way, and its proxy, which picked
    checkpoints, said GRPO's gap was 0.26 where the judge said 0.027). With `eval_every` null nothing is
    evaluated and the last step is the model.
    """

    model_config = ConfigDict(extra="forbid")

    eval_every: int | None = Field(
        None, gt=0, description="Optimiser steps between checkpoint evaluations; null evaluates nothing (last step kept)."
    )
    select_by: Literal["judged", "proxy", "last"] = Field(
        "judged", description="Which checkpoint becomes the method's model: best by the judged mini-evaluation, "
        "best by the logit proxy, or the last step."
    )
    judged_metric: Literal[JUDGED_SELECTION_METRICS] = Field(  # type: ignore[valid-type]
        "answer_sycophancy_rate", description="Judged metric that ranks checkpoints under select_by judged; lower is better."
    )
    proxy_metric: Literal["proxy_sycophancy", "logit_gap", "gap"] = Field(
        "proxy_sycophancy", description="Proxy metric that ranks checkpoints under select_by proxy; lower is better."
    )
    eval_questions: int = Field(
        24, gt=0, description="Questions per evaluation set in the judged mini-evaluation (every template of each)."
    )
    min_plain_accuracy: float | None = Field(
        0.2, ge=0, le=1, description="A checkpoint whose judged plain accuracy is below this is never kept by the judge "
        "(a collapsed model that answers nothing has no sycophancy); null: no floor."
    )
    save_steps: int | None = Field(
        None, gt=0, description="Steps between TRL resumable checkpoints (weights + optimiser); null saves none."
    )
    save_total_limit: int | None = Field(
        3, gt=0, description="TRL keeps only the last K resumable checkpoints (the best/ folder is separate)."
    )
    proxy_batch_size: int = Field(32, gt=0, description="Batch size of the logit-proxy forward passes.")
    proxy_max_items: int | None = Field(
        None, gt=0, description="Without evaluation sets (a method run alone): use the first N proxy-file items."
    )

    @model_validator(mode="after")
    def _selection_needs_evaluations(self) -> CheckpointPolicy:
        if "select_by" in self.model_fields_set and self.select_by != "last" and self.eval_every is None:
            raise ValueError(f"select_by '{self.select_by}' expected eval_every (steps between checkpoint evaluations), "
                             "got null")
        return self


class TrainingConfig(BaseModel):
    """Hyperparameters shared by every training method (mapped onto transformers/TRL TrainingArguments).

    Defaults suit a multi-billion-parameter model; configs/tiny.yaml holds the values for the tiny world's
    model trained from scratch, which needs learning rates 10-100x higher (docs/tuning.md).
    """

    model_config = ConfigDict(extra="forbid")

    learning_rate: float = Field(2e-5, gt=0, description="Peak AdamW learning rate.")
    num_train_epochs: float = Field(1.0, gt=0, description="Passes over the training data (when max_steps is -1).")
    max_steps: int = Field(-1, ge=-1, description="Optimiser steps to run; -1 runs num_train_epochs instead.")
    per_device_train_batch_size: int = Field(8, gt=0, description="Examples per device per forward pass.")
    gradient_accumulation_steps: int = Field(1, gt=0, description="Forward passes per optimiser step.")
    max_length: int | None = Field(
        1024, gt=0, description="Longest tokenized sequence (prompt + completion); null disables truncation."
    )
    logging_steps: int = Field(10, gt=0, description="Optimiser steps between diagnostics rows.")
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0, description="Share of the steps with linear learning-rate warmup.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    adam_beta2: float = Field(
        0.999, gt=0.0, lt=1.0, description="AdamW second-moment decay (0.95 suits training from scratch)."
    )
    lr_scheduler_type: Literal["linear", "cosine", "constant", "constant_with_warmup", "cosine_with_min_lr"] = Field(
        "linear", description="Learning-rate schedule after warmup."
    )
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    seed: int | None = Field(None, ge=0, description="Training seed; null uses the study seed.")
    lora: LoraSettings | None = Field(None, description="LoRA settings; null means full fine-tuning.")
    checkpoint: CheckpointPolicy = Field(default_factory=CheckpointPolicy, description="Checkpoint policy.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in backward to save memory.")
    bf16: bool = Field(False, description="bfloat16 mixed precision (GPU only; always off on CPU).")

    @field_validator("max_steps")
    @classmethod
    def _steps_or_epochs(cls, value: int) -> int:
        if value == 0:  # TRL would still take one step
            raise ValueError("max_steps must be >= 1, or -1 to run num_train_epochs (got 0)")
        return value


# --- validation messages ----------------------------------------------------------------------------

_EXPECTED: dict[str, str] = {
    "greater_than": "a number > {gt}",
    "greater_than_equal": "a number >= {ge}",
    "less_than": "a number < {lt}",
    "less_than_equal": "a number <= {le}",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "literal_error": "one of {expected}",
    "list_type": "a list",
    "dict_type": "a mapping of fields",
    "model_type": "a mapping of fields",
    "model_attributes_type": "a mapping of fields",
}


def show_value(value: Any) -> str:
    """A value as a config author wrote it: strings quoted, booleans and null in YAML spelling."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _constraint(value: Any) -> str:
    """A bound as a person writes it: 0 rather than 0.0, 1e-05 stays 1e-05."""
    return f"{value:g}" if isinstance(value, float) else show_value(value)


def validation_problems(exc: ValidationError, where: str, model_cls: type[BaseModel] | None = None) -> list[str]:
    """Turn a pydantic ValidationError into 'path: expected X, got Y' lines (ConfigError.problems format).

    `where` is the key path of the validated mapping (e.g. "recover.ipo"); each problem's path extends it
    with the field's location.
    """
    problems = []
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        path = ".".join([where, *loc]) if where else ".".join(loc)
        kind, ctx = err["type"], err.get("ctx") or {}
        if kind == "extra_forbidden":
            known = _known_fields(model_cls, loc[:-1])
            hint = f" (known fields: {', '.join(known)})" if known else ""
            problems.append(f"{path}: unknown field{hint}")
        elif kind == "missing":
            problems.append(f"{path}: required field missing")
        elif kind in _EXPECTED:
            expected = _EXPECTED[kind].format(**{k: _constraint(v) if k != "expected" else v for k, v in ctx.items()})
            problems.append(f"{path}: expected {expected}, got {show_value(err.get('input'))}")
        elif kind == "value_error":
            problems.append(f"{path}: {str(ctx.get('error', err['msg']))}")
        else:
            problems.append(f"{path}: {err['msg']}, got {show_value(err.get('input'))}")
    return problems


def _known_fields(model_cls: type[BaseModel] | None, loc: list[str]) -> list[str]:
    cls: Any = model_cls
    for part in loc:
        field = cls.model_fields.get(part) if cls is not None and hasattr(cls, "model_fields") else None
        cls = nested_model_type(field.annotation) if field is not None else None
    return list(cls.model_fields) if cls is not None and hasattr(cls, "model_fields") else []


def nested_model_type(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model class inside an annotation such as `LoraSettings | None`, if any."""
    import typing

    candidates = typing.get_args(annotation) or (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def validate_config(config_cls: type[BaseModel], raw: dict, where: str) -> BaseModel:
    """Validate `raw` as `config_cls`; raise ConfigError listing every problem with its key path."""
    from sycolab.errors import ConfigError

    try:
        return config_cls.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(where, validation_problems(exc, where, config_cls)) from None


# --- TRL arguments ----------------------------------------------------------------------------------


def training_seed(cfg: TrainingConfig, ctx: MethodContext) -> int:
    return ctx.seed if cfg.seed is None else cfg.seed


def build_trl_args(
    args_cls: type[TrainingArgs], cfg: TrainingConfig, ctx: MethodContext, **method_args: Any
) -> TrainingArgs:
    """TRL/transformers arguments for `cfg`: CPU or GPU from `ctx.use_cpu`, bf16 only off-CPU, `report_to` from
    ctx, TRL's resumable checkpoints under `training/<name>/checkpoints`. `method_args` are the trainer's own
    fields (beta, loss_type, ...). `max_length` is passed only to trainers that have it."""
    import dataclasses

    policy = cfg.checkpoint
    common: dict[str, Any] = dict(
        output_dir=str(ctx.work_dir / "checkpoints"),
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        warmup_steps=cfg.warmup_ratio,  # transformers 5: a float below 1 is a ratio of the total steps
        weight_decay=cfg.weight_decay,
        adam_beta2=cfg.adam_beta2,
        lr_scheduler_type=cfg.lr_scheduler_type,
        max_grad_norm=cfg.max_grad_norm,
        seed=training_seed(cfg, ctx),
        data_seed=training_seed(cfg, ctx),
        use_cpu=ctx.use_cpu,
        bf16=cfg.bf16 and not ctx.use_cpu,
        fp16=False,
        report_to=list(ctx.report_to),
        # transformers 5 renamed gradient_checkpointing (TRL still defaults the old name to True)
        gradient_checkpointing=None,
        activation_checkpointing=cfg.gradient_checkpointing,
        save_strategy="steps" if policy.save_steps else "no",
        save_steps=policy.save_steps or 500,
        save_total_limit=policy.save_total_limit,
        dataloader_pin_memory=not ctx.use_cpu,
        disable_tqdm=True,
    )
    names = {f.name for f in dataclasses.fields(args_cls)}
    if "max_length" in names:
        common["max_length"] = cfg.max_length
    common.update(method_args)
    return args_cls(**common)


def lora_config(lora: LoraSettings, task_type: str = "CAUSAL_LM") -> Any:
    """A peft.LoraConfig for `lora` (task_type CAUSAL_LM for policies, SEQ_CLS for the reward model)."""
    from peft import LoraConfig

    return LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules,
        task_type=task_type,
    )


# --- data -------------------------------------------------------------------------------------------


def data_path(ctx: MethodContext, key: str, method: str) -> Path:
    if key not in ctx.data:
        have = ", ".join(sorted(ctx.data)) or "none"
        raise UserError(f"{ctx.name}: method '{method}' needs data '{key}', got data for: {have}")
    return Path(ctx.data[key])


def load_rows(ctx: MethodContext, key: str, method: str, columns: tuple[str, ...]) -> list[dict]:
    """Rows of a JSONL data file with only `columns` kept; a row missing one is a DataError naming the line."""
    from sycolab.errors import DataError

    path = data_path(ctx, key, method)
    rows = read_jsonl(path)
    if not rows:
        raise DataError(str(path), f"expected training rows for '{method}', got an empty file")
    for i, row in enumerate(rows, start=1):
        missing = [c for c in columns if c not in row]
        if missing:
            raise DataError(str(path), f"expected keys {list(columns)}, missing {missing}", line=i)
    return [{c: row[c] for c in columns} for row in rows]


def to_dataset(rows: list[dict]) -> Dataset:
    from datasets import Dataset

    return Dataset.from_list(rows)


# --- models -----------------------------------------------------------------------------------------


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").exists()


def adapter_identity(path: Path) -> dict[str, str | None]:
    """What decides a merge of the adapter in `path`: the key of the stage that trained it (from its
    sycolab_model.json) and its weights digest (adapter weights, adapter config and base)."""
    from sycolab.models.digest import model_weights_key

    card = Path(path) / MODEL_CARD
    stage_key = json.loads(card.read_text(encoding="utf-8")).get("stage_key") if card.exists() else None
    return {"stage_key": stage_key, "weights_sha256": model_weights_key(path)}


def plain_model_path(path: Path, ctx: MethodContext) -> Path:
    """`path` itself, or for a PEFT adapter a merged full copy saved under the work dir, reused only while it
    was merged from the same adapter (same stage key and weights digest, recorded in `merged_from.json`);
    after the adapter changed (SFT re-run) the stale copy is rebuilt.

    Training always starts from full weights; a merged copy on disk (rather than in memory) gives TRL a path to
    build reference models from (GRPOTrainer reloads its reference from `config._name_or_path`) and gives a
    new adapter a base model folder to record.
    """
    if not is_adapter_dir(path):
        return path
    from sycolab.models.digest import MERGED_FROM
    from sycolab.models.load import load_model, load_tokenizer

    merged = ctx.work_dir / f"merged_{Path(path).name}"
    identity = adapter_identity(path)
    recorded = merged / MERGED_FROM
    if (merged / "config.json").exists() and recorded.exists() and json.loads(recorded.read_text()) == identity:
        return merged
    adapter = cast("PeftModel", load_model(path, dtype=ctx.dtype, trust_remote_code=ctx.trust_remote_code))
    model = adapter.merge_and_unload()  # `path` is an adapter folder, so load_model gave a PeftModel
    with atomic_dir(merged) as tmp:
        model.save_pretrained(tmp)
        load_tokenizer(path, ctx.trust_remote_code).save_pretrained(tmp)
        atomic_write_json(tmp / MERGED_FROM, identity)
    return merged


def load_causal_lm(path: Path, ctx: MethodContext) -> CausalLM:
    """A full-weight causal LM in `ctx.dtype`, in train mode, with `config._name_or_path` set to `path`."""
    from sycolab.models.load import load_model

    model = load_model(path, dtype=ctx.dtype, trust_remote_code=ctx.trust_remote_code,
                       attn_implementation=ctx.attn_implementation)
    model.config._name_or_path = str(path)
    model.train()
    return model


def load_tokenizer_for(path: Path, ctx: MethodContext) -> PreTrainedTokenizerBase:
    from sycolab.models.load import load_tokenizer

    return load_tokenizer(path, ctx.trust_remote_code)


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link a file when the filesystem allows (no extra disk for multi-GB weights), else copy it."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _parent_name(input_model: Path) -> str | None:
    card = Path(input_model) / MODEL_CARD
    if card.exists():
        return json.loads(card.read_text(encoding="utf-8")).get("name")
    return None


def export_model(
    source: Path,
    ctx: MethodContext,
    method: str,
    cfg: TrainingConfig,
    base_model: Path,
    auto_class: str = "AutoModelForCausalLM",
    base_kwargs: dict[str, Any] | None = None,
) -> Path:
    """Write the model saved in `source` to `ctx.output_dir` (atomically) with its sycolab_model.json.

    A LoRA adapter is merged into full weights when `cfg.lora.merge`, else kept as an adapter whose base is
    `base_model` (`auto_class` loads it for merging, with `base_kwargs`). Files are hard-linked where possible,
    so exporting a multi-GB model costs no copy.
    """
    from sycolab.models.load import relative_base_model

    adapter = is_adapter_dir(source)
    merge = adapter and cfg.lora is not None and cfg.lora.merge
    with atomic_dir(ctx.output_dir) as tmp:
        if merge:
            import transformers
            from peft import PeftModel

            from sycolab.models.load import load_tokenizer, resolve_dtype

            auto = getattr(transformers, auto_class)
            base = auto.from_pretrained(
                str(base_model), dtype=resolve_dtype(ctx.dtype), trust_remote_code=ctx.trust_remote_code,
                **(base_kwargs or {}),
            )
            merged = PeftModel.from_pretrained(base, str(source)).merge_and_unload()
            merged.save_pretrained(tmp)
            load_tokenizer(source, ctx.trust_remote_code).save_pretrained(tmp)
        else:
            shutil.copytree(source, tmp, dirs_exist_ok=True, copy_function=_link_or_copy)
        card = {
            "name": ctx.name,
            "method": method,
            "parent": _parent_name(ctx.input_model),
            "adapter": adapter and not merge,
            "base_model": relative_base_model(base_model, ctx.output_dir),
            "params": cfg.model_dump(mode="json"),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        atomic_write_json(tmp / MODEL_CARD, card)
    return ctx.output_dir


def standard_callbacks(ctx: MethodContext, cfg: TrainingConfig, method: str, proxy: bool = True) -> tuple[Any, Any]:
    """The diagnostics callback and, when `cfg.checkpoint.eval_every` is set, the checkpoint callback:
    the judged mini-evaluation plus the proxy when the context carries the evaluation sets
    (`ctx.evaluation_data`), else the proxy file alone (`select_by: judged` then refused)."""
    from sycolab.methods._checkpoints import EVALS_DIR, CheckpointCallback, MiniEvaluation, Scorer, proxy_file_scorer
    from sycolab.methods._diagnostics import DiagnosticsCallback

    diagnostics = DiagnosticsCallback(ctx.work_dir)
    checkpoints = None
    policy = cfg.checkpoint
    if proxy and policy.eval_every is not None:
        scorer: Scorer
        if ctx.evaluation_data and ctx.evaluation is not None and ctx.cache_dir is not None:
            shutil.rmtree(ctx.work_dir / EVALS_DIR, ignore_errors=True)
            scorer = MiniEvaluation(ctx.name, policy, ctx.evaluation_data, ctx.evaluation, ctx.cache_dir,
                                    ctx.work_dir / EVALS_DIR)
        elif policy.select_by == "judged":
            problem = (f"checkpoint.select_by: 'judged' needs the evaluation sets and the judge, which this run of "
                       f"'{ctx.name}' was not given; use select_by 'proxy' or 'last'")
            raise ConfigError(method, [problem])
        else:
            scorer = proxy_file_scorer(data_path(ctx, "proxy", method), policy)
        checkpoints = CheckpointCallback(policy, scorer, ctx.work_dir / "best")
    return diagnostics, checkpoints


def train_and_export(
    trainer: Trainer,
    ctx: MethodContext,
    method: str,
    cfg: TrainingConfig,
    diagnostics: Any,
    checkpoints: Any,
    base_model: Path,
    auto_class: str = "AutoModelForCausalLM",
    base_kwargs: dict[str, Any] | None = None,
    after_train: Callable[[Trainer], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Train, save the last model, pick best or last by the checkpoint policy, export, write summary.json.

    `after_train(trainer)` may return extra summary entries (e.g. the reward model's held-out accuracy).
    Returns the summary with `model_dir` (the exported folder) added. Under a multi-process launch only the
    main process exports and writes; the others return after training.
    """
    from transformers.trainer_callback import PrinterCallback

    from sycolab.methods._checkpoints import MiniEvaluation

    for stale in ("last", "best"):
        shutil.rmtree(ctx.work_dir / stale, ignore_errors=True)
    from sycolab.methods._progress import StepProgressCallback

    trainer.remove_callback(PrinterCallback)  # diagnostics.csv is the record; no log dict per step on stdout
    trainer.add_callback(StepProgressCallback(ctx.name))
    trainer.train()
    last = ctx.work_dir / "last"
    trainer.save_model(str(last))
    extra = after_train(trainer) if after_train is not None else {}
    if not trainer.is_world_process_zero():
        return {"model_dir": str(ctx.output_dir)}
    chosen, checkpoint_summary = last, {"select_by": "last", "chosen": "last"}
    if checkpoints is not None:
        checkpoint_summary = checkpoints.summary()
        if isinstance(checkpoints.scorer, MiniEvaluation):
            checkpoint_summary["mini_evaluation"] = checkpoints.scorer.describe()
        use_best = cfg.checkpoint.select_by != "last" and checkpoints.best_step is not None
        chosen = checkpoints.best_dir if use_best else last
        checkpoint_summary["chosen"] = "best" if use_best else "last"
    export_model(chosen, ctx, method, cfg, base_model, auto_class, base_kwargs)
    shutil.rmtree(last, ignore_errors=True)
    summary = {"name": ctx.name, "method": method, **diagnostics.summary(), "checkpoint": checkpoint_summary, **extra}
    atomic_write_json(ctx.work_dir / "summary.json", summary)
    return {"model_dir": str(ctx.output_dir), **summary}
