"""Quality filters for generated texts; each returns the reason a text is dropped, or None to keep it."""

from __future__ import annotations

from sycolab.data.build.config import FilterConfig

REASONS = ("failed", "empty", "truncated", "too_short", "too_long", "repetitive")
"""Every drop reason, in the order they are checked ("failed": the request failed after its retries)."""


def repeated_trigram_share(text: str) -> float:
    """Share of the word trigrams of `text` that repeat an earlier trigram ("a b c a b c" -> 1 of 4 = 0.25)."""
    words = text.lower().split()
    trigrams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    if not trigrams:
        return 0.0
    return 1.0 - len(set(trigrams)) / len(trigrams)


def drop_reason(text: str | None, finish_reason: str | None, cfg: FilterConfig) -> str | None:
    """Why `text` is dropped ("failed", "empty", "truncated" by the token budget, "too_short", "too_long",
    "repetitive"), or None."""
    if text is None:
        return "failed"
    if not text.strip():
        return "empty"
    if finish_reason == "length" and cfg.drop_truncated:
        return "truncated"
    n_words = len(text.split())
    if n_words < cfg.min_words:
        return "too_short"
    if n_words > cfg.max_words:
        return "too_long"
    if repeated_trigram_share(text) > cfg.max_repeated_trigram_share:
        return "repetitive"
    return None
