"""A quiet, informative terminal for long commands (`sycolab run`, `train`, `eval`, `probe`).

While `quiet_output(log_file)` is active, everything libraries print (Python warnings, transformers and
datasets logs and load reports, trainer and dataset-processing progress bars, stray prints) goes to
`log_file` in the run dir; sycolab's own lines go to the real terminal through `say`, and long stages draw
one progress bar with time left through `progress_bar`, only when stderr is a terminal. `verbose=True`
(`-v`) echoes the library output to the terminal as well. Nothing written to a non-terminal carries
ANSI escape codes.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_terminal_out: IO[str] | None = None
_terminal_err: IO[str] | None = None
_LIBRARY_LOGGERS = ("transformers", "datasets", "trl", "peft", "accelerate", "torch", "httpx", "urllib3")


def say(text: str) -> None:
    """One line for the person at the terminal (the real stdout, even while library output is redirected)."""
    stream = _terminal_out or sys.stdout
    stream.write(text + "\n")
    stream.flush()


def terminal_is_tty() -> bool:
    stream = _terminal_err or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def progress_bar(total: int, desc: str, unit: str = "step", position: int | None = None) -> Any:
    """A tqdm bar with elapsed and remaining time on the real stderr; a disabled bar when it is not a terminal."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=_terminal_err or sys.stderr, leave=False,
                disable=not terminal_is_tty(), dynamic_ncols=True, position=position)


class _Tee:
    """Writes to several text streams (the log file and, with -v, the terminal)."""

    def __init__(self, *streams: IO[str]):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()

    def isatty(self) -> bool:
        return False


def _route_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_default_handler()
    hf_logging.enable_propagation()
    hf_logging.set_verbosity_warning()
    hf_logging.disable_progress_bar()


def _route_datasets() -> None:
    from datasets.utils import logging as ds_logging

    ds_logging.disable_progress_bar()
    logger = logging.getLogger("datasets")
    logger.handlers.clear()
    logger.propagate = True


#: transformers and datasets own stderr handlers created at import time; these hand their records to the
#: root logger instead and switch their progress bars off (a dataset `map` bar per trainer is noise).
_ROUTES = {"transformers": _route_transformers, "datasets": _route_datasets}


class _RouteOnImport(importlib.abc.MetaPathFinder):
    """Routes a library of `_ROUTES` the moment its first import finishes. `quiet_output` imports neither
    library itself: a command that never loads a model (a fully cached `sycolab eval`) never pays for them."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        route = _ROUTES.get(fullname)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path) if route else None
        if route is None or spec is None or spec.loader is None:
            return None
        execute = spec.loader.exec_module

        def execute_and_route(module: Any) -> None:
            execute(module)
            route()

        spec.loader.exec_module = execute_and_route  # type: ignore[method-assign]
        return spec


def _route_library_logging() -> None:
    """Route the libraries of `_ROUTES` that are imported already."""
    for name, route in _ROUTES.items():
        if name in sys.modules:
            route()


@contextlib.contextmanager
def quiet_output(log_file: Path, verbose: bool = False) -> Iterator[Path]:
    """Send library output to `log_file` (appended) for the duration; `say` and `progress_bar` still reach
    the terminal. Restores streams, handlers and warning filters on exit, also on error."""
    global _terminal_out, _terminal_err
    log_file = Path(log_file)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    saved = (_terminal_out, _terminal_err)
    _terminal_out, _terminal_err = sys.stdout, sys.stderr
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    with open(log_file, "a", encoding="utf-8") as fh, warnings.catch_warnings():
        sink: IO[str] = _Tee(fh, _terminal_err) if verbose else fh  # type: ignore[assignment]
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.handlers = [handler]
        root.setLevel(logging.INFO if verbose else logging.WARNING)
        for name in _LIBRARY_LOGGERS:
            logging.getLogger(name).propagate = True
        logging.captureWarnings(True)
        warnings.simplefilter("default")
        _route_library_logging()
        hook = _RouteOnImport()
        sys.meta_path.insert(0, hook)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield log_file
        finally:
            sys.meta_path.remove(hook)
            logging.captureWarnings(False)
            root.handlers, root.level = saved_handlers, saved_level
            _terminal_out, _terminal_err = saved
