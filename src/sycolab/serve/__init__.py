"""`sycolab serve`: an OpenAI-compatible chat endpoint over a local transformers model.

Names are imported lazily, so `sycolab.serve.limits` (read by the command line) stays free of torch.
"""

from __future__ import annotations

from typing import Any

_WHERE = {
    "ChatCompletion": "local_model", "LocalChatModel": "local_model", "ServeLimits": "limits",
    "RunningServer": "server", "make_server": "server", "parse_chat_request": "server", "serve": "server",
    "start_server": "server",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"sycolab.serve.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'sycolab.serve' has no attribute {name!r}")
