"""Error types. A `UserError` is a mistake in the user's input: the CLI prints its one-line message
and exits with code 2, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input (config, data, arguments). The message names the place and what would be right."""

    exit_code = 2


class ConfigError(UserError):
    """A config that does not validate. `problems` lists every problem as 'path: message'."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        head = f"{source}: {len(problems)} problem(s) in config: " if len(problems) > 1 else f"{source}: "
        super().__init__(head + "; ".join(problems))


class DataError(UserError):
    """A malformed data file. Carries file, line (1-based) and field when known."""

    def __init__(self, path: str, message: str, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field = str(path), line, field
        where = self.path + (f":{line}" if line is not None else "")
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}")


class StageError(RuntimeError):
    """A stage failed for a reason that is not the user's input (exit code 1)."""


class IncompleteStageError(StageError):
    """A stage stopped short for a reason outside the user's input that a plain rerun may fix (judge calls
    that failed after their retries). What it finished is kept (the caches); the CLI prints the one-line
    message and exits with code 1."""
