"""Run one training method in several processes under `accelerate launch` (DDP, DeepSpeed ZeRO, FSDP).

Parent side, `launch_with_accelerate(spec, ctx, execution)`: writes the method's context as a
`LaunchRequest` JSON file into `ctx.work_dir`, starts

    python -m accelerate.commands.launch --num_processes N [--config_file F | --multi_gpu ...] \
        -m sycolab.study.accelerate_launch <request.json>

and waits. Child side (`python -m sycolab.study.accelerate_launch`, one process per rank): rebuilds the
`MethodContext` and runs the method; TRL trainers are accelerate-aware, so data is sharded and gradients
are all-reduced across ranks. Only rank 0 writes the model: every other rank's `output_dir` points at a
scratch folder under `training/<name>/accelerate/`, which is deleted afterwards (collective saves such as
ZeRO-3's gather still see every rank take part). Each rank writes `rank{r}.json` when it finishes; rank 0
also writes `result.json` (the method's result). The parent checks that every rank finished, and on
failure raises with the first failing rank's traceback (`training/<name>/accelerate/rank<r>.traceback.txt`; the
ranks share `stderr.log`, whose lines interleave).

On a CPU-only machine `--multi_gpu --num_processes 2` starts two workers that join a gloo process group
(`--cpu` would start one); shipped configs are in `sycolab/configs/accelerate/` (`ddp`, `deepspeed_zero2`,
`deepspeed_zero3`, `fsdp`, `cpu_gloo`) and are chosen by name or path with `execution.accelerate_config`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import traceback
import types
import typing
from collections import deque
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sycolab.config.sections import ExecutionConfig
from sycolab.errors import StageError, UserError
from sycolab.io import atomic_write_json, read_json
from sycolab.methods.registry import MethodContext, MethodSpec, get_method
from sycolab.study.child_process import die_with_parent

REQUEST_FILE = "accelerate_request.json"
STATUS_DIR = "accelerate"
RESULT_FILE = "result.json"
ERROR_FILE = "error.json"
TRACEBACK_FILE = "rank{rank}.traceback.txt"  # each rank's own traceback: ranks share one stderr, whose lines interleave
STDERR_TAIL_LINES = 40


class LaunchRequest(BaseModel):
    """What the parent hands to every rank: the method, its context (JSON-encoded `MethodContext`
    fields, the method config as a dict) and where ranks report back."""

    model_config = ConfigDict(extra="forbid")

    method: str
    context: dict[str, Any]
    num_processes: int = Field(ge=1)
    status_dir: str


class RankReport(BaseModel):
    """`rank{r}.json`: written by each rank after its method returned."""

    model_config = ConfigDict(extra="forbid")

    rank: int
    world_size: int
    backend: str | None
    pid: int
    seconds: float


# -- shipped configs ------------------------------------------------------------------------------

def shipped_accelerate_configs() -> dict[str, Path]:
    """Name -> path of the accelerate configs shipped in `sycolab/configs/accelerate/`."""
    folder = Path(str(resources.files("sycolab"))) / "configs" / "accelerate"
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve_accelerate_config(name_or_path: str) -> Path:
    """A path to an existing accelerate config file, or the name of a shipped one (`ddp`, `fsdp`, ...)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    shipped = shipped_accelerate_configs()
    stem = name_or_path[:-5] if name_or_path.endswith(".yaml") else name_or_path
    if stem in shipped:
        return shipped[stem]
    raise UserError(
        f"execution.accelerate_config: '{name_or_path}' is neither a file nor a shipped config "
        f"(shipped: {', '.join(shipped)})"
    )


# -- parent side ----------------------------------------------------------------------------------

def accelerate_command(
    request_path: Path, num_processes: int, config_file: Path | None, port: int | None = None
) -> list[str]:
    """The `accelerate launch` command line that runs this module's `main` on `num_processes` ranks.

    Without a config file: `--multi_gpu` (torchrun; on a machine without GPUs the workers use gloo),
    one machine, no mixed precision at the launcher (TrainingArguments' bf16/fp16 decide), no dynamo.
    """
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes)]
    if config_file is not None:
        cmd += ["--config_file", str(config_file)]
    else:
        cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    if port is not None:
        cmd += ["--main_process_port", str(port)]
    return cmd + ["-m", "sycolab.study.accelerate_launch", str(request_path)]


def launch_with_accelerate(spec: MethodSpec, ctx: MethodContext, execution: ExecutionConfig) -> dict[str, Any]:
    """Train `spec` on `ctx` in `execution.num_processes` processes; return rank 0's method result.

    Raises `UserError` when a rank failed on bad input (config, data), `StageError` otherwise (non-zero
    exit, or a rank that never reported), with the tail of the children's stderr.
    """
    n = execution.num_processes
    config_file = resolve_accelerate_config(execution.accelerate_config) if execution.accelerate_config else None
    status_dir = Path(ctx.work_dir) / STATUS_DIR
    shutil.rmtree(status_dir, ignore_errors=True)
    status_dir.mkdir(parents=True)
    request = LaunchRequest(method=spec.name, context=encode_context(ctx), num_processes=n, status_dir=str(status_dir))
    request_path = atomic_write_json(Path(ctx.work_dir) / REQUEST_FILE, request.model_dump(mode="json"))
    cmd = accelerate_command(request_path, n, config_file, port=_free_port())
    stdout_log, stderr_log = status_dir / "stdout.log", status_dir / "stderr.log"
    # Logs are streams appended by the children while they run, not store artifacts: plain files.
    with stdout_log.open("wb") as out, stderr_log.open("wb") as err:
        # die_with_parent: a killed sweep job leaves no ranks training (torchrun forwards the SIGTERM to them)
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=_child_env(), preexec_fn=die_with_parent)
        try:
            returncode = proc.wait()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
    error_path = status_dir / ERROR_FILE
    if error_path.exists():
        error = read_json(error_path)
        if error.get("kind") == "user":
            raise UserError(error["message"])
    if returncode != 0:
        where, excerpt = root_cause(status_dir, stderr_log)
        raise StageError(
            f"accelerate launch of '{ctx.name}' ({spec.name}, {n} processes) failed with exit code {returncode}; "
            f"first error in {where}:\n{excerpt}"
        )
    missing = [r for r in range(n) if not (status_dir / f"rank{r}.json").exists()]
    if missing:
        raise StageError(
            f"accelerate launch of '{ctx.name}' exited 0 but rank(s) {missing} of {n} never finished; "
            f"last lines of {stderr_log}:\n{stderr_tail(stderr_log)}"
        )
    for r in range(1, n):
        shutil.rmtree(status_dir / f"rank{r}_output", ignore_errors=True)
    return read_json(status_dir / RESULT_FILE)


def rank_reports(work_dir: Path) -> list[RankReport]:
    """The `rank{r}.json` reports of the last launch whose status folder is `work_dir/accelerate`."""
    folder = Path(work_dir) / STATUS_DIR
    reports = [RankReport.model_validate(read_json(p)) for p in folder.glob("rank*.json")]
    return sorted(reports, key=lambda r: r.rank)


def stderr_tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    if not path.exists():
        return "(no stderr captured)"
    with path.open(encoding="utf-8", errors="replace") as f:
        tail = deque(f, maxlen=lines)
    return "".join(tail).rstrip() or "(stderr empty)"


_EXCEPTION_LINE = re.compile(r"^(\[rank\d+\]: )?[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b")


def root_cause(status_dir: Path, stderr_log: Path, lines: int = STDERR_TAIL_LINES) -> tuple[Path, str]:
    """(file, excerpt) of the first failure: the traceback a rank wrote first to its own file (when one rank
    dies the others fail next with "connection closed by peer"), else the first traceback in the shared
    stderr (a failure before a rank's code ran, e.g. in torchrun)."""
    written = sorted(status_dir.glob(TRACEBACK_FILE.format(rank="*")), key=lambda p: (p.stat().st_mtime_ns, p.name))
    if written:
        text = written[0].read_text(encoding="utf-8", errors="replace").rstrip().splitlines()
        return written[0], "\n".join(text[-lines:])
    return stderr_log, failure_excerpt(stderr_log, lines)


def failure_excerpt(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    """The first Python traceback in the children's stderr (the root cause: when one rank dies, the
    others fail next with "connection closed by peer" and torchrun prints its own summary last), cut to
    its last `lines` lines; the plain tail when there is no traceback."""
    if not path.exists():
        return "(no stderr captured)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    start = next((i for i, ln in enumerate(text) if "Traceback (most recent call last)" in ln), None)
    if start is None:
        return stderr_tail(path, lines)
    end = next((i for i in range(start + 1, len(text)) if _EXCEPTION_LINE.match(text[i])), len(text) - 1)
    return "\n".join(text[start:end + 1][-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread per rank unless the user says otherwise
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- context (de)serialisation -------------------------------------------------------------------

def encode_context(ctx: MethodContext) -> dict[str, Any]:
    """`MethodContext` as JSON-ready fields: paths as strings, the method config as a dict of the fields that
    were set (defaults come back on decoding, so validators that look at what was set see the same)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(ctx):
        value = getattr(ctx, f.name)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json", exclude_unset=True)
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, dict):
            value = {k: str(v) if isinstance(v, Path) else v for k, v in value.items()}
        out[f.name] = value
    return out


def decode_context(spec: MethodSpec, fields: dict[str, Any]) -> MethodContext:
    """Inverse of `encode_context`: paths typed as `Path` (or `dict[str, Path]`) become Paths again and the
    config is re-validated by the method's config class."""
    hints = typing.get_type_hints(MethodContext)
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "config":
            values[name] = spec.config_cls.model_validate(value)
        else:
            values[name] = _as_hinted(hints.get(name), value)
    return MethodContext(**values)


def _as_hinted(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if hint is Path or (_is_union(hint) and args == [Path]):
        return Path(value)
    if typing.get_origin(hint) is dict and len(args) == 2 and args[1] is Path:
        return {k: Path(v) for k, v in value.items()}
    return value


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


# -- child side -----------------------------------------------------------------------------------

def _result_info(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: v for k, v in dataclasses.asdict(obj).items() if isinstance(v, (int, float, str, bool, type(None)))}
    return {"result": str(obj)}


def run_rank(request: LaunchRequest) -> dict[str, Any]:
    """Run the method on this rank (RANK / WORLD_SIZE come from torchrun); rank 0 keeps `output_dir`,
    other ranks save into a scratch folder. Returns the method's result as a JSON-ready dict."""
    rank = int(os.environ.get("RANK", "0"))
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    status_dir = Path(request.status_dir)
    spec = get_method(request.method)
    ctx = decode_context(spec, request.context)
    if rank != 0:
        ctx = dataclasses.replace(ctx, output_dir=status_dir / f"rank{rank}_output")
        Path(ctx.output_dir).mkdir(parents=True, exist_ok=True)
    if ctx.use_cpu:
        os.environ["ACCELERATE_USE_CPU"] = "true"  # TrainingArguments then builds a gloo (MULTI_CPU) state
    start = time.perf_counter()
    info = _result_info(spec.run(ctx))
    seconds = time.perf_counter() - start

    import torch.distributed as dist

    backend = str(dist.get_backend()) if dist.is_available() and dist.is_initialized() else None
    atomic_write_json(status_dir / f"rank{rank}.json", RankReport(
        rank=rank, world_size=world_size, backend=backend, pid=os.getpid(), seconds=round(seconds, 3),
    ).model_dump(mode="json"))
    if rank == 0:
        atomic_write_json(status_dir / RESULT_FILE, info)
    if backend is not None:
        dist.barrier()
        dist.destroy_process_group()
    return info


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sycolab.study.accelerate_launch REQUEST.json (started by accelerate launch)",
              file=sys.stderr)
        return 2
    request = LaunchRequest.model_validate(read_json(args[0]))
    try:
        run_rank(request)
    except UserError as e:
        if int(os.environ.get("RANK", "0")) == 0:
            atomic_write_json(Path(request.status_dir) / ERROR_FILE, {"kind": "user", "message": str(e)})
        print(f"sycolab: error: {e}", file=sys.stderr)
        return 2
    except BaseException:
        rank = int(os.environ.get("RANK", "0"))
        (Path(request.status_dir) / TRACEBACK_FILE.format(rank=rank)).write_text(traceback.format_exc(), encoding="utf-8")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
