"""The limits `sycolab serve` holds under load (no torch import: the command line reads the defaults)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class ServeLimits:
    """Bounds on what one request, and all requests together, may take.

    max_prompt_tokens: longest rendered prompt (chat template applied); longer -> HTTP 400.
    max_completion_tokens: largest `max_tokens` a request may ask for; larger -> HTTP 400.
    default_max_tokens: the reply budget of a request that names none (capped by max_completion_tokens).
    max_body_bytes: largest request body; larger -> HTTP 413, without reading it.
    workers: requests handled at once; further connections wait in the listen backlog.
    backlog: connections the kernel queues while every worker is busy (the stdlib default is 5).
    request_timeout_s: socket timeout while a client sends its request, so a client that announces more
    bytes than it sends (a lying Content-Length) frees its worker after this long.
    """

    max_prompt_tokens: int = 8192
    max_completion_tokens: int = 2048
    default_max_tokens: int = 128
    max_body_bytes: int = 4 * 1024 * 1024
    workers: int = 16
    backlog: int = 128
    request_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        bad = [f.name for f in fields(self) if not getattr(self, f.name) > 0]
        if bad:
            raise ValueError(f"serve limits must be positive: {', '.join(bad)}")
