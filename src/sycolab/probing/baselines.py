"""Shortcut baselines: how well do labels follow from things other than the probed representation?

- `template`: the prompt template alone (suggest_incorrect vs doubt_correct);
- `knowledge`: whether the same model failed the neutral prompt of the question (its scored neutral reply
  is not correct: wrong or hedged; from its eval samples; unknown when it has no scored neutral reply);
- `template+knowledge`: both together;
- for transfer, `agreement`: the source model's own label on the same question and template as the score.
The first three are lookup-table probes, cross-fitted on the probes' own folds: a sample's score is the
sycophancy rate of its key (template, knowledge or both) among the training folds' samples (the training
rate overall for a key unseen there). A probe AUROC that does not clear these says the probe may read the
shortcut rather than a representation of the behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sycolab.probing.probes import Split

OWN_BASELINES = ("template", "knowledge", "template+knowledge")


def baseline_keys(templates: np.ndarray, neutral_wrong: np.ndarray) -> dict[str, np.ndarray]:
    """The lookup key of each sample for each own-model baseline."""
    knowledge = np.array(["unknown" if w is None else ("wrong" if w else "right") for w in neutral_wrong], dtype=object)
    templates = np.asarray(templates, dtype=object)
    return {
        "template": templates,
        "knowledge": knowledge,
        "template+knowledge": np.array([f"{t}|{k}" for t, k in zip(templates, knowledge, strict=True)], dtype=object),
    }


def lookup_scores(keys: np.ndarray, labels: np.ndarray, splits: Sequence[Split]) -> np.ndarray:
    """Out-of-fold score of each sample: the label rate of its key in the training part of its fold."""
    y = np.asarray(labels, dtype=np.float64)
    keys = np.asarray(keys, dtype=object)
    out = np.full(y.size, np.nan)
    for train, test in splits:
        if train.size == 0:
            continue
        overall = y[train].mean()
        rate = {k: y[train][keys[train] == k].mean() for k in np.unique(keys[train])}
        out[test] = [rate.get(k, overall) for k in keys[test]]
    return out


def agreement_scores(
    target_groups: np.ndarray,
    target_templates: np.ndarray,
    source_groups: np.ndarray,
    source_templates: np.ndarray,
    source_labels: np.ndarray,
) -> np.ndarray:
    """The source's label (1 sycophantic, 0 honest) on the target sample's question and template; 0.5 where
    the source has no labelled sample of it."""
    source = {
        (str(g), str(t)): float(y)
        for g, t, y in zip(source_groups, source_templates, np.asarray(source_labels, dtype=bool), strict=True)
    }
    return np.array([source.get((str(g), str(t)), 0.5) for g, t in zip(target_groups, target_templates, strict=True)])
