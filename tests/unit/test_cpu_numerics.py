"""The portable CPU numerics: what the pin sets, what it leaves to the user, what a run records."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sycolab.cpu_numerics import PORTABLE_CPU_ENV, cpu_model, cpu_numerics, pin_portable_cpu_numerics
from sycolab.store import RunStore


def test_pin_sets_each_missing_variable_and_keeps_the_users():
    env = {"MKL_CBWR": "AUTO", "PATH": "/bin"}
    added = pin_portable_cpu_numerics(env)
    assert added == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert env == {"MKL_CBWR": "AUTO", "PATH": "/bin", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert pin_portable_cpu_numerics(env) == {}  # a second call changes nothing


def test_record_reads_the_settings_and_names_unset_ones():
    record = cpu_numerics({})
    assert record["mkl_cbwr"] == "off" and record["onednn_max_cpu_isa"] == "native"
    assert cpu_numerics({"MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "AVX2"})["mkl_cbwr"] == "COMPATIBLE"
    assert record["torch"].startswith("2.")


def test_the_cli_pins_before_torch_chooses_its_kernels():
    """A fresh process through the CLI's entry point: torch's kernels are the AVX2 build (the machines this
    project runs on have AVX2), and the variables the parent did not set are the portable ones."""
    env = {k: v for k, v in os.environ.items() if k not in PORTABLE_CPU_ENV}
    code = ("import contextlib, io, json, sycolab.cli.main as m\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): m.main(['--help'])\n"
            "from sycolab.cpu_numerics import cpu_numerics; print(json.dumps(cpu_numerics()))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert '"aten_cpu_capability": "AVX2"' in out and '"mkl_cbwr": "COMPATIBLE"' in out


def test_the_manifest_records_the_cpu_and_its_numerics(tmp_path):
    store = RunStore(tmp_path / "run")
    store.init({"name": "x"}, seed=0)
    cpu = store.read_manifest()["cpu"]
    assert cpu["model"] == cpu_model() and cpu["mkl_cbwr"] == os.environ["MKL_CBWR"] == "COMPATIBLE"
    assert set(cpu) == {"model", "aten_cpu_capability", "mkl_cbwr", "onednn_max_cpu_isa", "torch"}


def test_the_record_is_the_same_without_torch_and_after_torch_ran(tmp_path):
    """`sycolab status` computes stage keys without importing torch; a training process computes them after
    torch chose its kernels. Under the pin both records, hence both keys, are equal."""
    env = {k: v for k, v in os.environ.items() if k not in PORTABLE_CPU_ENV}
    code = ("import json, sys\n"
            "from sycolab.cpu_numerics import cpu_numerics, pin_portable_cpu_numerics\n"
            "pin_portable_cpu_numerics(); before = cpu_numerics(); loaded = 'torch' in sys.modules\n"
            "import torch; torch.ones(8).exp().sum()\n"
            "print(json.dumps([loaded, before == cpu_numerics(), before]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    loaded, same, record = json.loads(out.strip().splitlines()[-1])
    assert loaded is False and same is True and record["aten_cpu_capability"] == "AVX2"
