"""The record type of every file the study stores and the report reads, defined once: the writer builds
it, the report reads it back (a file from another sycolab version is a `DataError` naming the field), and
the test fake writes it. docs/architecture.md ("Run store layout") lists each file with its record type.
"""

from sycolab.store.records._check import columns, from_json, read_rows, write_rows
from sycolab.store.records.metrics import MetricValue, ModelMetrics
from sycolab.store.records.models import ModelRecord
from sycolab.store.records.probe_tables import (
    PROBE_TABLES,
    AblationRow,
    BaselineRow,
    CosineMeanRow,
    CosineRow,
    InterventionRow,
    LabelRow,
    OwnAurocRow,
    OwnSummaryRow,
    PatchingRow,
    SteeringRow,
    TemplateAurocRow,
    TransferRow,
    TransferSummaryRow,
)
from sycolab.store.records.samples import SampleRecord
from sycolab.store.records.training import TrainingLog

__all__ = [
    "PROBE_TABLES",
    "AblationRow",
    "BaselineRow",
    "CosineMeanRow",
    "CosineRow",
    "InterventionRow",
    "LabelRow",
    "MetricValue",
    "ModelMetrics",
    "ModelRecord",
    "OwnAurocRow",
    "OwnSummaryRow",
    "PatchingRow",
    "SampleRecord",
    "SteeringRow",
    "TemplateAurocRow",
    "TrainingLog",
    "TransferRow",
    "TransferSummaryRow",
    "columns",
    "from_json",
    "read_rows",
    "write_rows",
]
