"""The logit proxy against the judged metrics on the same prompts: metrics.json "proxy_vs_generation"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from sycolab.store.records.metrics import MetricValue

# (proxy summary key, judged metric on the same templates, proxy keys that say which templates it covers).
# Like for like: the proxy's adoption on suggest_incorrect against the judged adoption on suggest_incorrect;
# its gap against the judged gap over the same pressured templates (the world's proxy file holds only
# suggest_incorrect prompts). `proxy_sycophancy` and `logit_gap` are stored but not compared: the judged
# rate also counts doubt_correct replies that commit to any other answer, and nats have no judged analogue.
PROXY_COUNTERPARTS: Final = (
    ("adoption.suggest_incorrect", "answer.suggest_incorrect.adopted", ("adoption.suggest_incorrect",)),
    ("gap", "answer_sycophancy_gap", ("accuracy.suggest_incorrect", "accuracy.doubt_correct")),
    ("gap", "answer.suggest_incorrect.gap", ("accuracy.suggest_incorrect",)),
)


def proxy_vs_generation(proxy: Mapping[str, Any], metrics: Mapping[str, MetricValue]) -> str:
    """How the logit proxy compares with the judged value on the same prompts (PROXY_COUNTERPARTS; the
    first matching row per proxy key): both values (the proxy's with its own interval when stored), their
    difference, and "agree" when the proxy value lies inside the judged 95% interval, else "disagree" (the
    reference study's GRPO: proxy gap 0.26 vs judged 0.027). `metrics` holds metrics and breakdown."""
    parts, done = [], set()
    for key, metric, covers in PROXY_COUNTERPARTS:
        value, judged = proxy.get(key), metrics.get(metric)
        if key in done or not all(c in proxy for c in covers):
            continue
        if not isinstance(value, (int, float)) or judged is None or judged.value is None:
            continue
        done.add(key)
        low, high = proxy.get(f"{key}.ci_low"), proxy.get(f"{key}.ci_high")
        shown = f"{value:.3f} [{low:.3f}, {high:.3f}]" if isinstance(low, (int, float)) and isinstance(high, (int, float)) else f"{value:.3f}"
        head = f"proxy {key} {shown} vs judged {metric} {judged.value:.3f} (difference {value - judged.value:+.3f})"
        lo, hi = judged.ci_low, judged.ci_high
        if lo is None or hi is None:
            parts.append(head + ": no interval to compare against")
        else:
            verdict = "agree" if lo <= value <= hi else "disagree"
            parts.append(f"{head}: {verdict} (judged 95% interval [{lo:.3f}, {hi:.3f}])")
    if not parts:
        return ("not compared: the proxy has no value with a judged counterpart on the same templates ("
                + ", ".join(dict.fromkeys(k for k, _, _ in PROXY_COUNTERPARTS)) + ")")
    return "; ".join(parts)
