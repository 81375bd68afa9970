"""Record type of `models/<name>/sycolab_model.json` (docs/architecture.md "Run store layout"): what a
stored model is, where it came from and which weights it holds. The study writes it
(`sycolab.store.run_store.write_model_record`) and reads it back (`RunStore.list_models`, the report).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from sycolab.io import read_json
from sycolab.store.records._check import OPTIONAL, from_json

MODEL_RECORD: Final = "sycolab_model.json"


@dataclass(frozen=True)
class ModelRecord:
    """A model in the store. `base_model`: hub id, or path relative to the model folder, of what the adapter
    or weights start from; `params`: the method config as a dict; `stage_key`: key of the stage that made
    the weights; `weights_sha256`: `sycolab.models.digest.weights_sha256` at save time. The last three may be
    absent from a card (a trainer's own card before the study completes it): they read as None."""

    name: str
    method: str
    parent: str | None
    adapter: bool
    params: dict[str, Any]
    created: str
    base_model: str | None = field(default=None, metadata=OPTIONAL)
    stage_key: str | None = field(default=None, metadata=OPTIONAL)
    weights_sha256: str | None = field(default=None, metadata=OPTIONAL)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def read(cls, folder: Path) -> ModelRecord:
        """models/<name>/sycolab_model.json, checked: a missing, unexpected or mistyped field is a DataError."""
        path = Path(folder) / MODEL_RECORD
        return from_json(cls, read_json(path), path)
