"""The study as a stage graph: world -> base -> induce (sft) -> recover (each method / sweep cell)
-> eval (every model) -> probe -> report. Each stage reads and writes the run store only, so any stage
can be re-run alone, and a finished stage whose inputs are unchanged is skipped on resume."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sycolab.config import MethodCell, dump_config, method_config, recover_cells
from sycolab.config.schema import StudyConfig
from sycolab.errors import UserError
from sycolab.io import atomic_dir, atomic_write_text, iter_jsonl
from sycolab.methods.registry import MethodContext, get_method
from sycolab.study.stages import Stage, StageOutcome
from sycolab.study.store import RunStore, write_model_record

log = logging.getLogger(__name__)

STAGE_GROUPS = ("world", "base", "induce", "recover", "eval", "probe", "report")

WORLD_FILES = {
    "answer": "eval/answer.jsonl",
    "are_you_sure": "eval/are_you_sure.jsonl",
    "feedback": "eval/feedback.jsonl",
    "base_corpus": "train/base_corpus.jsonl",
    "sft": "train/sft_sycophantic.jsonl",
    "preference": "train/preference_pairs.jsonl",
    "preference_heldout": "train/preference_heldout.jsonl",
    "grpo_prompts": "train/grpo_prompts.jsonl",
    "proxy": "heldout/proxy.jsonl",
}


@dataclass
class Study:
    """A loaded config bound to a run store."""

    cfg: StudyConfig
    store: RunStore
    keys: dict[str, str] = field(default_factory=dict)

    # -- data ----------------------------------------------------------------------------------
    def data_path(self, name: str) -> Path:
        """The file for data set `name`: the config's `data.<name>` if set, else the tiny world's."""
        given = getattr(self.cfg.data, name, None)
        if given:
            path = Path(given)
            if not path.exists():
                raise UserError(f"data.{name}: file '{given}' not found")
            return path
        return self.store.world_dir / WORLD_FILES[name]

    def data_paths(self, *names: str) -> dict[str, Path]:
        return {n: self.data_path(n) for n in names}

    @property
    def needs_world(self) -> bool:
        return self.cfg.uses_tiny_world or any(getattr(self.cfg.data, n) is None for n in type(self.cfg.data).model_fields)

    @property
    def device(self) -> str:
        import torch

        if self.cfg.execution.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.cfg.execution.device

    # -- stages --------------------------------------------------------------------------------
    def stages(self) -> list[tuple[str, Stage]]:
        """(group, stage) in execution order."""
        cfg = self.cfg
        out: list[tuple[str, Stage]] = []
        if self.needs_world:
            out.append(("world", Stage("world", cfg.world.model_dump(mode="json"), [], self._run_world)))
        base_slice = cfg.base.model_dump(mode="json")
        out.append(("base", Stage("base", base_slice, ["world"] if self.needs_world else [], self._run_base)))
        out.append(("induce", Stage("train:sft", cfg.induce, ["base", *(["world"] if self.needs_world else [])],
                                    self._run_induce)))
        cells = recover_cells(cfg)
        by_method = {c.method: c for c in cells}
        for cell in cells:
            upstream = ["train:sft", *(["world"] if self.needs_world else [])]
            spec = get_method(cell.method)
            for need in spec.needs:
                if need not in by_method:
                    raise UserError(f"recover.{cell.entry}: method '{cell.method}' needs a '{need}' entry in recover")
                upstream.append(f"train:{by_method[need].name}")
            out.append(("recover", Stage(f"train:{cell.name}", {"method": cell.method, **cell.config.model_dump(mode="json")},
                                         upstream, self._recover_runner(cell, by_method))))
        eval_slice = cfg.evaluate.model_dump(mode="json")
        for name in self.evaluated_models():
            out.append(("eval", Stage(f"eval:{name}", eval_slice, [f"train:{name}" if name != "base" else "base"],
                                      lambda n=name: self._run_eval(n))))
        if cfg.probe.enabled:
            out.append(("probe", Stage("probe", cfg.probe.model_dump(mode="json"),
                                       [f"eval:{n}" for n in self.evaluated_models()], self._run_probe)))
        out.append(("report", Stage("report", cfg.report.model_dump(mode="json"),
                                    [s.name for _, s in out], self._run_report)))
        return out

    def evaluated_models(self) -> list[str]:
        names = ["base", "sft"]
        for cell in recover_cells(self.cfg):
            if get_method(cell.method).produces_causal_lm:
                names.append(cell.name)
        return names

    def validate_inputs(self) -> None:
        """Parse every data file the config names, before any stage runs, so a malformed line fails the
        study at once (DataError naming file, line and field) instead of after hours of training."""
        from sycolab.data.sycophancy_eval import load_eval_file
        from sycolab.data.trl_formats import read_preference_rows, read_prompt_rows, read_sft_rows
        from sycolab.evaluation.proxy import ProxyItem

        readers: dict[str, Callable[[Path], Any]] = {
            "answer": lambda p: load_eval_file(p, "answer"),
            "are_you_sure": lambda p: load_eval_file(p, "are_you_sure"),
            "feedback": lambda p: load_eval_file(p, "feedback"),
            "sft": read_sft_rows,
            "preference": read_preference_rows,
            "preference_heldout": read_preference_rows,
            "grpo_prompts": read_prompt_rows,
            "proxy": lambda p: [ProxyItem.from_mapping(row, f"{p}:{line}") for line, row in iter_jsonl(p)],
        }
        for name, reader in readers.items():
            if getattr(self.cfg.data, name):
                reader(self.data_path(name))

    def run(self, groups: set[str] | None = None, force: bool = False,
            on_outcome: Callable[[StageOutcome], None] | None = None) -> list[StageOutcome]:
        self.validate_inputs()
        self.store.init(self.cfg.model_dump(mode="json"), self.cfg.seed)
        atomic_write_text(self.store.root / "config.yaml", dump_config(self.cfg))
        from sycolab.study.executors import make_executor

        todo: list[tuple[str, Stage]] = []
        for group, stage in self.stages():
            if groups and group not in groups:
                prior = self.store.stage(stage.name)
                if prior and prior.get("key"):
                    self.keys[stage.name] = prior["key"]
                continue
            todo.append((group, stage))
        # in-process by default; with execution.executor == "submitit", recover cells and evals run as jobs
        outcomes = make_executor(self.cfg.execution, self.store).run(self, todo, force=force, on_outcome=on_outcome)
        self.store.finish()
        return outcomes

    # -- stage bodies --------------------------------------------------------------------------
    def _run_world(self) -> dict[str, Any]:
        from sycolab.world import generate_world

        with atomic_dir(self.store.world_dir) as tmp:
            summary = generate_world(self.cfg.world, tmp)
        return _as_info(summary)

    def _run_base(self) -> dict[str, Any]:
        cfg = self.cfg
        if not cfg.uses_tiny_world:
            with atomic_dir(self.store.model_dir("base")) as out:
                write_model_record(out, "base", "pretrained", None, {"model": cfg.base.model},
                                   base_model=cfg.base.model)
            return {"model": cfg.base.model}
        from sycolab.models.tiny import build_tiny_model
        from sycolab.models.tokenizer import train_word_tokenizer

        tokenizer = train_word_tokenizer(corpus_texts(sorted(self.store.world_dir.rglob("*.jsonl"))))
        init_dir = self.store.training_dir("base") / "init"
        model = build_tiny_model(cfg.base.tiny, tokenizer, seed=cfg.seed)
        model.save_pretrained(init_dir)
        tokenizer.save_pretrained(init_dir)
        n_params = sum(p.numel() for p in model.parameters())
        train_cfg = method_config("sft", cfg.base.train, "base.train")
        info = self._train("base", "sft", train_cfg, parent=None, input_model=init_dir,
                           data={"sft": self.data_path("base_corpus"), "proxy": self.data_path("proxy")})
        from sycolab.world.gates import run_base_gate

        gate = run_base_gate(self.store.model_dir("base"), self.store.world_dir, self.store.training_dir("base") / "gate.json")
        return {"parameters": n_params, "vocab_size": len(tokenizer), **info, "gate": gate}

    def _run_induce(self) -> dict[str, Any]:
        info = self._train("sft", "sft", method_config("sft", self.cfg.induce, "induce"), parent="base")
        if self.cfg.uses_tiny_world:  # the tiny world's SFT must have learned the feedback stance
            from sycolab.world.gates import run_stance_gate

            info["gate"] = run_stance_gate(self.store.model_dir("sft"), self.store.world_dir,
                                           self.store.training_dir("sft") / "gate.json")
        return info

    def _recover_runner(self, cell: MethodCell, by_method: dict[str, MethodCell]) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            extra = {need: self.store.model_dir(by_method[need].name) for need in get_method(cell.method).needs}
            return self._train(cell.name, cell.method, cell.config, parent="sft", extra_models=extra)
        return run

    def _train(self, name: str, method: str, method_cfg: Any, parent: str | None, input_model: Path | None = None,
               data: dict[str, Path] | None = None, extra_models: dict[str, Path] | None = None) -> dict[str, Any]:
        from sycolab.study.launch import run_method

        spec = get_method(method)
        input_model = input_model or self.store.model_dir(parent or "base")
        data = data or self.data_paths("sft", "preference", "preference_heldout", "grpo_prompts", "proxy")
        with atomic_dir(self.store.model_dir(name)) as out:
            ctx = MethodContext(
                name=name, config=method_cfg, input_model=input_model, output_dir=out,
                work_dir=self.store.training_dir(name), data=data, seed=self.cfg.seed,
                reference_model=self.store.model_dir("sft") if parent == "sft" else None,
                extra_models=extra_models or {}, dtype=self.cfg.base.dtype,
                trust_remote_code=self.cfg.base.trust_remote_code,
                attn_implementation=self.cfg.base.attn_implementation, report_to=self.cfg.tracking.report_to,
                use_cpu=self.device == "cpu",
            )
            result = run_method(spec, ctx, self.cfg.execution)
            write_model_record(out, name, method, parent, method_cfg.model_dump(mode="json"),
                               adapter=(out / "adapter_config.json").exists(),
                               base_model=str(input_model))
        info = _as_info(result)
        if "model_dir" in info:  # the method saw the temporary folder; record where the model now lives
            info["model_dir"] = str(self.store.model_dir(name))
        return info

    def _run_eval(self, name: str) -> dict[str, Any]:
        from sycolab.study.evaluate import evaluate_stored_model

        return evaluate_stored_model(self, name)

    def _run_probe(self) -> dict[str, Any]:
        from sycolab.study.probe import probe_study

        return probe_study(self)

    def _run_report(self) -> dict[str, Any]:
        from sycolab.reporting import build_report

        paths = build_report(self.store.root, self.cfg.report)
        return {"outputs": [str(p) for p in paths]}


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


def _as_info(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return {k: v for k, v in dataclasses.asdict(obj).items() if isinstance(v, (int, float, str, bool, type(None)))}
    return {"result": str(obj)}
