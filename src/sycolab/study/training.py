"""The training stages' bodies: world (the tiny world's files), base (a hub model recorded, or the tiny
model built, pre-trained and checked by the world's base gate), and train:<name> (one method run into models/<name>/, its model card
written). Each is given a `TrainContext` (store, data files, model loading, seed, launcher, tracking and
the evaluate section its checkpoint evaluations use), never the whole study."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sycolab.config.sections import BaseModelConfig
from sycolab.io import atomic_dir, atomic_write_json, iter_jsonl, read_json
from sycolab.methods.registry import MethodContext, get_method
from sycolab.models.digest import model_weights_key, weights_sha256
from sycolab.models.load import adapter_base, relative_base_model
from sycolab.store import display_path, write_model_record
from sycolab.study.contexts import EVAL_DATA, RECOVER_DATA, TrainContext
from sycolab.study.launch import run_method
from sycolab.world import WorldConfig, generate_world, load_world


def run_world(cfg: WorldConfig, world_dir: Path) -> dict[str, Any]:
    """Stage world: the tiny world's files, written whole into `world_dir`."""
    with atomic_dir(world_dir) as tmp:
        summary = generate_world(cfg, tmp)
    return as_info(summary)


def run_base(ctx: TrainContext, base: BaseModelConfig, train_cfg: Any, tiny_world: bool) -> dict[str, Any]:
    """Stage base: a configured model is recorded as it is (a checkpoint folder by its weights' digest, a
    hub id by name); the tiny model gets a word tokenizer of the world and `base.train` steps of SFT on the
    base corpus (`train_cfg`: `base.train` validated at load, `StudyConfig.methods.base_train`), then the
    world's base gate (`check_base_gate`)."""
    store = ctx.store
    if not tiny_world:
        local = Path(base.model).is_dir()  # a checkpoint folder is identified by content, a hub id by name
        with atomic_dir(store.model_dir("base")) as out:
            write_model_record(out, "base", "pretrained", None, {"model": base.model},
                               base_model=relative_base_model(base.model, store.model_dir("base")),
                               stage_key=(store.stage("base") or {}).get("key"),
                               weights_sha256=weights_sha256(base.model) if local else f"hub:{base.model}")
        return {"model": base.model}
    from sycolab.models.tiny import build_tiny_model
    from sycolab.models.tokenizer import train_word_tokenizer  # imports transformers: only when one is built

    tokenizer = train_word_tokenizer(corpus_texts(sorted(store.world_dir.rglob("*.jsonl"))))
    init_dir = store.training_dir("base") / "init"
    model = build_tiny_model(base.tiny, tokenizer, seed=ctx.seed)
    model.save_pretrained(init_dir)
    tokenizer.save_pretrained(init_dir)
    n_params = sum(p.numel() for p in model.parameters())
    info = train_model(ctx, "base", "sft", train_cfg, parent=None, input_model=init_dir,
                       data={"sft": ctx.data.path("base_corpus"), "proxy": ctx.data.path("proxy")})
    return {"parameters": n_params, "vocab_size": len(tokenizer), **info, **check_base_gate(ctx)}


BASE_GATE_FIELDS = ("base_gate", "gate_taught_accuracy", "gate_never_taught_hedge")
"""The world settings the base gate reads (`sycolab.world.gates`)."""


def tiny_base_settings(world_dir: Path, world: WorldConfig) -> dict[str, Any]:
    """What of the world decides the tiny base besides its corpus file (a `StageInputs` setting each):
    `vocabulary`, the tokenizer's {token: id} (the alphabetical word set of every world file in `world_dir`,
    `sycolab.models.tokenizer`), and `gate_world`, the world's facts, phrasings and splits that the base gate
    asks (world.json without its config and file list) with the gate's settings in `world`. The SFT and
    preference files' rows do not enter, so changing them keeps the trained base while its vocabulary stays
    the same. The files are read as they are on disk: a world setting that changes them shows in the base's
    key once the world stage has rewritten them (the world stage runs first)."""
    from sycolab.models.tokenizer import tiny_vocabulary

    gate = {name: getattr(world, name) for name in BASE_GATE_FIELDS}
    record = world_dir / "world.json"
    if not record.is_file():
        return {"gate_world": {"gate": gate}}
    content = {k: v for k, v in read_json(record).items() if k not in ("config", "files")}
    return {"vocabulary": tiny_vocabulary(corpus_texts(sorted(world_dir.rglob("*.jsonl")))),
            "gate_world": {"world": content, "gate": gate}}


def check_base_gate(ctx: TrainContext, batch_size: int = 128) -> dict[str, Any]:
    """The world's base gate (`sycolab.world.gates`) on the stored tiny base, unless `world.base_gate` is
    off: the result written to training/base/gate.json, a `GateError` (exit 2) when it did not pass, else
    the measured rates for the stage's info."""
    from sycolab.generation.hf import HFBackend
    from sycolab.models.load import load_model_and_tokenizer
    from sycolab.world import gates

    store = ctx.store
    record = store.training_dir("base") / "gate.json"
    cfg = _gated_world(ctx, "base_gate", record)
    if cfg is None:
        return {}
    model, tokenizer = load_model_and_tokenizer(store.model_dir("base"), ctx.loading.dtype,
                                                ctx.loading.trust_remote_code, ctx.loading.device)
    backend = HFBackend(model, tokenizer, "base", batch_size=batch_size, progress=False)
    gate = gates.measure(backend, load_world(store.world_dir), cfg)
    atomic_write_json(record, gate.to_json())
    message = gates.failure_message(gate)
    if message is not None:
        raise gates.GateError(f"{message}; measured in {display_path(record, store.root)}")
    return {"gate_taught_accuracy": gate.taught_accuracy, "gate_never_taught_hedge": gate.never_taught_hedge}


def _gated_world(ctx: TrainContext, switch: str, record: Path) -> WorldConfig | None:
    """The study's world config when its gate `switch` (a WorldConfig field) is on; else None, with the gate's
    record of an earlier run removed (it would describe another model)."""
    cfg = WorldConfig.model_validate(read_json(ctx.store.world_dir / "world.json")["config"])
    if getattr(cfg, switch):
        return cfg
    record.unlink(missing_ok=True)
    return None


def check_stance_gate(ctx: TrainContext, batch_size: int = 128) -> dict[str, Any]:
    """The world's stance gate (`sycolab.evaluation.stance_gate`) on the stored SFT model against the base, unless
    `world.stance_gate` is off: the result written to training/sft/stance_gate.json, a `GateError` (exit 2)
    when it did not pass, else the two moves for the stage's info."""
    from sycolab.evaluation import stance_gate
    from sycolab.models.load import load_model, load_tokenizer, stored_model_source

    store = ctx.store
    record = store.training_dir("sft") / "stance_gate.json"
    cfg = _gated_world(ctx, "stance_gate", record)
    if cfg is None:
        return {}
    loading = ctx.loading
    base, sft = (load_model(stored_model_source(store.model_dir(name)), dtype=loading.dtype,
                            trust_remote_code=loading.trust_remote_code, device=loading.device) for name in ("base", "sft"))
    tokenizer = load_tokenizer(stored_model_source(store.model_dir("base")), trust_remote_code=loading.trust_remote_code)
    gate = stance_gate.measure(base, sft, tokenizer, load_world(store.world_dir), cfg, batch_size=batch_size)
    atomic_write_json(record, gate.to_json())
    message = stance_gate.failure_message(gate)
    if message is not None:
        raise stance_gate.GateError(f"{message}; measured in {display_path(record, store.root)}")
    return {"stance_approving_move": gate.approving_move, "stance_disapproving_move": gate.disapproving_move}


def train_model(ctx: TrainContext, name: str, method: str, method_cfg: Any, parent: str | None,
                input_model: Path | None = None, data: dict[str, Path] | None = None,
                extra_models: dict[str, Path] | None = None) -> dict[str, Any]:
    """Stage train:<name>: run `method` from `input_model` (default the stored `parent`) into
    models/<name>/ (written whole), then its model card."""
    store, loading = ctx.store, ctx.loading
    spec = get_method(method)
    input_model = input_model or store.model_dir(parent or "base")
    data = data or ctx.data.paths(*RECOVER_DATA)
    with atomic_dir(store.model_dir(name)) as out:
        method_ctx = MethodContext(
            name=name, config=method_cfg, input_model=input_model, output_dir=out,
            work_dir=store.training_dir(name), data=data, seed=ctx.seed,
            reference_model=store.model_dir("sft") if parent == "sft" else None,
            extra_models=extra_models or {}, dtype=loading.dtype,
            trust_remote_code=loading.trust_remote_code,
            attn_implementation=loading.attn_implementation, report_to=ctx.report_to,
            use_cpu=loading.device == "cpu", **_checkpoint_evaluation(ctx, method_cfg),
        )
        result = run_method(spec, method_ctx, ctx.execution)
        _write_record(ctx, out, name, method, parent, method_cfg.model_dump(mode="json"), input_model)
    info = as_info(result)
    if "model_dir" in info:  # the method saw the temporary folder; record where the model now lives
        info["model_dir"] = str(store.model_dir(name))
    return info


def evaluates_checkpoints(method_cfg: Any) -> bool:
    """Whether `method_cfg` evaluates its checkpoints (`checkpoint.eval_every` set)."""
    policy = getattr(method_cfg, "checkpoint", None)
    return policy is not None and policy.eval_every is not None


def _checkpoint_evaluation(ctx: TrainContext, method_cfg: Any) -> dict[str, Any]:
    """MethodContext fields for the judged checkpoint evaluation, when the method evaluates checkpoints."""
    if not evaluates_checkpoints(method_cfg):
        return {}
    data = ctx.data.paths(*EVAL_DATA)
    world = ctx.store.world_dir / "world.json"
    if world.exists():
        data.update(world=world, proxy=ctx.data.path("proxy"))
    return {"evaluation_data": data, "evaluation": ctx.evaluate.model_dump(mode="json"),
            "cache_dir": ctx.store.cache_dir}


def _write_record(ctx: TrainContext, out: Path, name: str, method: str, parent: str | None, params: dict[str, Any],
                  input_model: Path) -> None:
    """The model card: base named relative to the model folder (relocatable run dir), the key of the
    stage that made it and its weights digest (the generation cache's model identity)."""
    final = ctx.store.model_dir(name)
    adapter = (out / "adapter_config.json").exists()
    base_digest = None
    if adapter:  # the adapter's real base (a merged copy under training/), as the method exported it
        base = adapter_base(out)
        base_digest = model_weights_key(Path(base)) if Path(base).is_dir() else base
    else:
        base = str(input_model)
    stage = ctx.store.stage("base" if name == "base" else f"train:{name}") or {}
    write_model_record(out, name, method, parent, params, adapter=adapter,
                       base_model=relative_base_model(base, final), stage_key=stage.get("key"),
                       weights_sha256=weights_sha256(out, base_digest))


def corpus_texts(paths: list[Path]) -> list[str]:
    """Every string value in the given JSONL files (the tiny tokenizer's training text)."""
    texts: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, str):
            texts.append(obj)
        elif isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    for path in paths:
        for _, row in iter_jsonl(path):
            walk(row)
    return texts


def as_info(obj: Any) -> dict[str, Any]:
    """A stage's result as the manifest's `info`: a dict as is, a pydantic model or dataclass as its scalar
    fields, anything else as its string."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "__dataclass_fields__"):
        return {k: v for k, v in dataclasses.asdict(obj).items() if isinstance(v, (int, float, str, bool, type(None)))}
    return {"result": str(obj)}
