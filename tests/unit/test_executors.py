"""Executors (scheduling, failure reports, submitit parameters) and the accelerate launcher's plumbing
(command line, shipped configs, context round trip), with scripted stages and no training."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from sycolab.config.sections import ExecutionConfig, SubmititConfig
from sycolab.errors import StageError, UserError
from sycolab.methods.registry import MethodContext, MethodSpec
from sycolab.store import RunStore
from sycolab.study import accelerate_launch as al
from sycolab.study.executors import (
    InProcessExecutor,
    StageJobsFailed,
    StageRun,
    SubmititExecutor,
    describe_failure,
    job_name,
    make_executor,
)
from sycolab.study.pipeline import run_stage_job
from sycolab.study.stages import Stage, run_stage


def _stage(name, upstream, calls, fail=False):
    def run():
        calls.append(name)
        if fail:
            raise RuntimeError(f"{name} exploded")
        return {"value": len(calls)}
    return Stage(name, {"name": name}, upstream, run)


class _Job:
    """A finished submitit job, run synchronously in this process."""

    def __init__(self, store, stage, keys, force):
        self.paths = type("P", (), {"stderr": Path(f"/logs/{stage.name}.err")})()
        try:
            self._result, self._error = run_stage(store, stage, dict(keys), force=force), None
        except Exception as e:  # noqa: BLE001
            self._result, self._error = None, e

    def done(self):
        return True

    def result(self):
        if self._error:
            raise self._error
        return self._result


class _SyncSubmitit(SubmititExecutor):
    def __init__(self, **kwargs):
        super().__init__(SubmititConfig(), Path("/unused"), job_fn=run_stage_job, poll_s=0.0, **kwargs)
        self.submitted: list[str] = []  # stage names, in submission order

    def submit(self, stage, run, force):
        self.submitted.append(stage.name)
        return _Job(run.store, stage, run.keys, force)


def test_inprocess_runs_in_order_and_skips_finished(tmp_path):
    study, calls = StageRun(RunStore(tmp_path)), []
    stages = [("base", _stage("base", [], calls)), ("recover", _stage("train:dpo", ["base"], calls))]
    seen = []
    out = InProcessExecutor().run(study, stages, on_outcome=lambda o: seen.append((o.name, o.status)))
    assert seen == [("base", "done"), ("train:dpo", "done")] and calls == ["base", "train:dpo"]
    again = InProcessExecutor().run(StageRun(RunStore(tmp_path)), stages)
    assert [o.status for o in again] == ["skipped", "skipped"] and len(out) == 2


def test_batch_waits_for_upstream_jobs_and_names_failed_cells(tmp_path):
    study, calls = StageRun(RunStore(tmp_path)), []
    batch = [
        ("recover", _stage("train:grpo", ["train:reward_model"], calls)),  # listed before its upstream
        ("recover", _stage("train:reward_model", [], calls)),
        ("recover", _stage("train:dpo[beta=0.1]", [], calls, fail=True)),
        ("recover", _stage("train:dpo[beta=0.5]", [], calls)),
        ("recover", _stage("train:grpo_binary", ["train:dpo[beta=0.1]"], calls)),
    ]
    ex = _SyncSubmitit()
    with pytest.raises(StageJobsFailed) as info:
        ex.run(study, batch)
    # grpo is only submitted once the reward model finished; grpo_binary never, its upstream failed
    assert ex.submitted.index("train:grpo") > ex.submitted.index("train:reward_model")
    assert "train:grpo_binary" not in ex.submitted
    names = [f.name for f in info.value.failed]
    assert names == ["train:dpo[beta=0.1]", "train:grpo_binary"]
    msg = str(info.value)
    assert "2 of 5 submitted stage(s) failed" in msg
    assert "train:dpo[beta=0.1]: train:dpo[beta=0.1] exploded (log: /logs/train:dpo[beta=0.1].err)" in msg
    assert "train:grpo_binary: not run: upstream train:dpo[beta=0.1] failed" in msg
    assert isinstance(info.value, StageError)
    status = {n: study.store.stage(n)["status"] for n in ["train:reward_model", "train:grpo", "train:dpo[beta=0.5]"]}
    assert set(status.values()) == {"done"}

    # resume: the three finished cells are skipped without a job; only the failed chain runs again
    calls.clear()
    batch[2] = ("recover", _stage("train:dpo[beta=0.1]", [], calls))
    ex2 = _SyncSubmitit()
    outcomes = ex2.run(StageRun(RunStore(tmp_path)), batch)
    assert sorted(ex2.submitted) == ["train:dpo[beta=0.1]", "train:grpo_binary"]
    assert {o.name: o.status for o in outcomes}["train:grpo"] == "skipped"
    assert calls == ["train:dpo[beta=0.1]", "train:grpo_binary"]


def test_max_parallel_caps_jobs_in_flight(tmp_path):
    class _Slow(_SyncSubmitit):
        def __init__(self):
            super().__init__(max_parallel=2)
            self.peak, self.live = 0, []

        def submit(self, stage, run, force):
            job = super().submit(stage, run, force)
            self.live.append(job)
            self.peak = max(self.peak, sum(1 for j in self.live if not getattr(j, "seen", False)))
            orig = job.done

            def done():
                job.seen = True
                return orig()
            job.done = done
            return job

    calls: list[str] = []
    ex = _Slow()
    ex.run(StageRun(RunStore(tmp_path)), [("eval", _stage(f"eval:m{i}", [], calls)) for i in range(5)])
    assert ex.peak == 2 and len(calls) == 5


def test_interrupt_while_waiting_cancels_jobs_in_flight(tmp_path):
    class _Hanging:
        cancelled = False

        def done(self):
            raise KeyboardInterrupt

        def cancel(self, check=True):
            _Hanging.cancelled = True

    class _Ex(_SyncSubmitit):
        def submit(self, stage, run, force):
            self.submitted.append(stage.name)
            return _Hanging()

    with pytest.raises(KeyboardInterrupt):
        _Ex().run(StageRun(RunStore(tmp_path)), [("recover", _stage("train:dpo", [], []))])
    assert _Hanging.cancelled


def test_non_parallel_groups_stay_in_process(tmp_path):
    calls: list[str] = []
    ex = _SyncSubmitit()
    ex.run(StageRun(RunStore(tmp_path)), [("induce", _stage("train:sft", [], calls)),
                                        ("recover", _stage("train:dpo", ["train:sft"], calls)),
                                        ("report", _stage("report", ["train:dpo"], calls))])
    assert ex.submitted == ["train:dpo"] and calls == ["train:sft", "train:dpo", "report"]


def test_make_executor_and_job_folder(tmp_path):
    store = RunStore(tmp_path)
    assert isinstance(make_executor(ExecutionConfig(), store, run_stage_job), InProcessExecutor)
    ex = make_executor(ExecutionConfig(executor="submitit"), store, run_stage_job)
    assert isinstance(ex, SubmititExecutor) and ex.folder == tmp_path / "submitit" and ex.job_fn is run_stage_job
    ex = make_executor(ExecutionConfig(executor="submitit", submitit={"folder": "/abs/jobs"}), store, run_stage_job)
    assert ex.folder == Path("/abs/jobs")


def test_slurm_parameters_reach_the_sbatch_script(tmp_path, monkeypatch):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{__import__('os').environ['PATH']}")
    cfg = SubmititConfig(cluster="slurm", partition="gpu", gpus_per_node=4, cpus_per_task=16, mem_gb=256,
                         timeout_min=720)
    ex = SubmititExecutor(cfg, tmp_path / "jobs", job_fn=run_stage_job)
    assert ex.max_parallel is None  # the scheduler queues jobs
    from submitit.slurm.slurm import _make_sbatch_string

    params = ex._submitit()._executor.parameters
    script = _make_sbatch_string(command="python job.py", folder=str(tmp_path), **params)
    for line in ["--partition=gpu", "--gpus-per-node=4", "--cpus-per-task=16", "--mem=256GB", "--time=720",
                 "--ntasks-per-node=1", "--nodes=1"]:
        assert f"#SBATCH {line}\n" in script


def test_local_parallelism_default(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert SubmititExecutor(SubmititConfig(cpus_per_task=2), Path("/x"), job_fn=run_stage_job).max_parallel == 4
    assert SubmititExecutor(SubmititConfig(cpus_per_task=16), Path("/x"), job_fn=run_stage_job).max_parallel == 1


def test_job_name_and_failure_lines():
    assert job_name("train:ipo[beta=0.5,lr=5e-06]") == "sycolab-train-ipo_beta_0.5_lr_5e-06_"
    from submitit.core.utils import FailedJobError, UncompletedJobError

    remote = FailedJobError(
        "Job (task=0) failed during processing with trace:\n----------------------\nTraceback (most recent call "
        "last):\n  File \"/x/run.py\", line 8, in boom\n    raise ValueError(\"loss is nan\")\nValueError: loss is nan"
        "\n\n----------------------\nYou can check full logs with 'job.stderr(0)' and 'job.stdout(0)'or at paths:\n"
        "  - /j/1_0_log.err\n  - /j/1_0_log.out")
    assert describe_failure(remote) == "ValueError: loss is nan"
    killed = UncompletedJobError("Job 4242 (task: 0) with path /j/4242_0_result.pkl\n"
                                 "has not produced any output (state: FINISHED)\nNo error stream produced. Look at "
                                 "stdout: /j/4242_0_log.out\n----\nsubmitit INFO (...) - Loading pickle: /j/x.pkl\n")
    assert describe_failure(killed) == "job ended without a result (killed or timed out; state: FINISHED)"
    assert describe_failure(RuntimeError("boom")) == "boom"


# -- accelerate launcher ----------------------------------------------------------------------------

def test_command_without_config_uses_torchrun_multi_gpu(tmp_path):
    cmd = al.accelerate_command(tmp_path / "req.json", 2, None, port=29611)
    i = cmd.index("accelerate.commands.launch")
    assert cmd[i + 1:] == ["--num_processes", "2", "--multi_gpu", "--num_machines", "1", "--mixed_precision", "no",
                           "--dynamo_backend", "no", "--main_process_port", "29611",
                           "-m", "sycolab.study.accelerate_launch", str(tmp_path / "req.json")]
    assert "--cpu" not in cmd  # --cpu would start a single process


def test_command_with_shipped_config(tmp_path):
    path = al.resolve_accelerate_config("deepspeed_zero3")
    cmd = al.accelerate_command(tmp_path / "r.json", 8, path)
    assert cmd[cmd.index("--config_file") + 1] == str(path) and "--multi_gpu" not in cmd
    assert cmd[cmd.index("--num_processes") + 1] == "8"  # the CLI's count wins over the file's


def test_resolve_config_by_path_or_name(tmp_path):
    own = tmp_path / "mine.yaml"
    own.write_text("distributed_type: MULTI_GPU\n")
    assert al.resolve_accelerate_config(str(own)) == own
    assert al.resolve_accelerate_config("fsdp.yaml").name == "fsdp.yaml"
    with pytest.raises(UserError, match="shipped: cpu_gloo, ddp, deepspeed_zero2, deepspeed_zero3, fsdp"):
        al.resolve_accelerate_config("zero9")


@pytest.mark.parametrize("name,kind,extra", [
    ("ddp", "MULTI_GPU", {}),
    ("deepspeed_zero2", "DEEPSPEED", {"zero_stage": 2}),
    ("deepspeed_zero3", "DEEPSPEED", {"zero_stage": 3}),
    ("fsdp", "FSDP", {"fsdp_version": 2}),
    ("cpu_gloo", "MULTI_GPU", {}),
])
def test_every_shipped_config_loads_in_accelerate(name, kind, extra):
    from accelerate.commands.config.config_args import load_config_from_file

    path = al.shipped_accelerate_configs()[name]
    cfg = load_config_from_file(str(path))
    assert cfg.distributed_type.value == kind and cfg.num_machines == 1
    section = cfg.deepspeed_config if kind == "DEEPSPEED" else cfg.fsdp_config if kind == "FSDP" else {}
    for key, value in extra.items():
        assert section[key] == value
    raw = yaml.safe_load(path.read_text())
    assert raw["use_cpu"] is False  # use_cpu would select the single-process launcher
    assert raw["mixed_precision"] == ("no" if name == "cpu_gloo" else "bf16")


class _Cfg(BaseModel):
    beta: float = 0.1
    loss_type: str = "ipo"


def test_context_round_trip(tmp_path):
    spec = MethodSpec("ipo", _Cfg, run=lambda ctx: None)
    ctx = MethodContext(name="ipo[beta=0.5]", config=_Cfg(beta=0.5), input_model=tmp_path / "sft",
                        output_dir=tmp_path / "out", work_dir=tmp_path / "work",
                        data={"preference": tmp_path / "p.jsonl"}, seed=3, reference_model=None,
                        extra_models={"reward_model": tmp_path / "rm"}, dtype="bfloat16", report_to=["tensorboard"],
                        use_cpu=False)
    encoded = al.encode_context(ctx)
    assert encoded["config"] == {"beta": 0.5} and encoded["input_model"] == str(tmp_path / "sft")  # what was set
    back = al.decode_context(spec, __import__("json").loads(__import__("json").dumps(encoded)))
    assert back == ctx and isinstance(back.extra_models["reward_model"], Path)
    assert {f.name for f in dataclasses.fields(MethodContext)} == set(encoded)


def test_real_method_configs_survive_the_round_trip(tmp_path):
    """A default checkpoint policy must come back valid: dumping every field would mark `select_by` as set,
    and the policy refuses a set `select_by` without `eval_every`."""
    import json

    from sycolab.methods.registry import get_method

    for method, raw in (("sft", {}), ("dpo", {"beta": 0.2, "checkpoint": {"eval_every": 5, "select_by": "proxy"}})):
        spec = get_method(method)
        ctx = MethodContext(name=method, config=spec.config_cls.model_validate(raw), input_model=tmp_path / "m",
                            output_dir=tmp_path / "out", work_dir=tmp_path / "work", data={}, seed=0)
        back = al.decode_context(spec, json.loads(json.dumps(al.encode_context(ctx))))
        assert back.config == ctx.config


def test_stderr_tail(tmp_path):
    log = tmp_path / "stderr.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert al.stderr_tail(log, lines=3) == "line 97\nline 98\nline 99"
    assert al.stderr_tail(tmp_path / "none.log") == "(no stderr captured)"


# -- sycolab train: stage selection ------------------------------------------------------------------

def _sweep_study(tmp_path):
    from sycolab.config import validate_config
    from sycolab.study.pipeline import Study

    cfg = validate_config({"recover": {"dpo": {"beta": 0.1}, "ipo": {"beta": [0.1, 0.5], "learning_rate": 1e-5},
                                       "ipo_big": {"method": "ipo", "beta": 1.0}}})
    return Study(cfg, RunStore(tmp_path))


def test_train_selects_entries_methods_and_cells(tmp_path):
    from sycolab.study.train_one import select_training_stages

    study = _sweep_study(tmp_path)
    names = lambda method, cell=None: [s.name for s in select_training_stages(study, method, cell)]  # noqa: E731
    assert names("induce") == names("sft") == ["train:sft"]
    assert names("base") == ["base"]
    assert names("dpo") == ["train:dpo"]
    assert names("ipo") == ["train:ipo[beta=0.1]", "train:ipo[beta=0.5]", "train:ipo_big"]  # by method
    assert names("ipo_big") == ["train:ipo_big"]  # by entry
    assert names("ipo", "ipo[beta=0.5]") == ["train:ipo[beta=0.5]"]
    with pytest.raises(UserError, match="'grpo' is not a stage of this study"):
        names("grpo")
    with pytest.raises(UserError, match="no cell named 'ipo\\[beta=9\\]'"):
        names("ipo", "ipo[beta=9]")


def test_train_names_every_missing_upstream_stage(tmp_path):
    from sycolab.study.train_one import train_one

    study = _sweep_study(tmp_path)
    with pytest.raises(UserError) as info:
        list(train_one(study, "dpo"))
    assert "upstream stage(s) world, base, train:sft not done" in str(info.value)
    assert "--stages world,base,induce`" in str(info.value)
    assert not study.store.exists()  # nothing was written

    keys: dict[str, str] = {}
    for _, stage in study.stages()[:2]:  # world and base done; sft still missing
        stage.run = lambda: {}
        run_stage(study.store, stage, keys)
    with pytest.raises(UserError, match=r"upstream stage\(s\) train:sft not done .* --stages induce`"):
        list(train_one(study, "ipo"))
