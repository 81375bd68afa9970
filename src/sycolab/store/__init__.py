"""The run store: the folder layout of a study run, its manifest, model records and the provenance of
every stored result. It sits below `study` (which writes it) and `reporting` (which reads it) and imports
neither, so both can depend on it.

    RunStore(run_dir)              paths (model_dir, eval_dir, ...), manifest and stage entries, models
    write_model_record(folder...)  models/<name>/sycolab_model.json; ModelRecord.read(folder) reads it
    Provenance, build_provenance   what decided a stored result (metrics.json, probe/summary.json)
"""

from sycolab.store.provenance import (
    DataFile,
    Provenance,
    build_provenance,
    display_path,
    generation_settings,
    judge_settings,
)
from sycolab.store.run_store import (
    DATA_EVAL_PREFIX,
    MODEL_RECORD,
    ModelRecord,
    RunStore,
    code_version,
    code_versions,
    package_versions,
    pid_alive,
    write_model_record,
)

__all__ = [
    "DATA_EVAL_PREFIX",
    "MODEL_RECORD",
    "DataFile",
    "ModelRecord",
    "Provenance",
    "RunStore",
    "build_provenance",
    "display_path",
    "generation_settings",
    "judge_settings",
    "code_version",
    "code_versions",
    "package_versions",
    "pid_alive",
    "write_model_record",
]
