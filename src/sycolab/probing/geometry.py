"""Geometry of probe directions: do two models encode sycophancy along the same axis?

The direction of a logistic probe is its weight vector mapped back to the raw activation space
(`probes.probe_direction`: coef / scaler scale, unit length). The cosine similarity of two models'
directions at the same layer is their dot product: 1 = same axis and sign, 0 = orthogonal, -1 = flipped.
The model x model matrix is stored per layer (`cosine_rows`) and averaged over the layers where both models
have a direction (`cosine_mean_rows`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CosineRow:
    layer: int
    model_a: str
    model_b: str
    cosine: float


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """cos(a, b) = a . b / (|a| |b|); nan if either vector is zero."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(np.dot(a, b) / (na * nb))


def cosine_matrix(directions: Mapping[str, np.ndarray]) -> np.ndarray:
    """[m, m] cosine similarity between the directions of m models (in the mapping's order)."""
    names = list(directions)
    mat = np.stack([np.asarray(directions[n], dtype=np.float64) for n in names])
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    unit = np.divide(mat, norms, out=np.full_like(mat, np.nan), where=norms > 0)
    return unit @ unit.T


def cosine_rows(directions: Mapping[int, Mapping[str, np.ndarray]]) -> list[CosineRow]:
    """Every ordered pair of models (the diagonal included) at every layer: {layer: {model: direction}}."""
    rows = []
    for layer in sorted(directions):
        names = list(directions[layer])
        mat = cosine_matrix(directions[layer])
        rows += [CosineRow(layer, a, b, float(mat[i, j])) for i, a in enumerate(names) for j, b in enumerate(names)]
    return rows


@dataclass(frozen=True)
class CosineMeanRow:
    model_a: str
    model_b: str
    mean_cosine: float
    n_layers: int


def cosine_mean_rows(rows: Sequence[CosineRow]) -> list[CosineMeanRow]:
    """Mean cosine of each ordered model pair over the layers where both have a direction (nan left out)."""
    by_pair: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if np.isfinite(r.cosine):
            by_pair.setdefault((r.model_a, r.model_b), []).append(r.cosine)
    return [CosineMeanRow(a, b, float(np.mean(v)), len(v)) for (a, b), v in by_pair.items()]
