"""What a name in a study may be. Study names, recover entries and sweep cells become folder names in the
run store (`runs/<study>`, `models/<cell>`), so a name is a name, never a path."""

from __future__ import annotations

import re

NAME_CHARS = "letters, digits and -_.[]=,"
_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]=,]+")


def name_problem(name: object) -> str | None:
    """Why `name` is not a valid name, or None when it is (non-empty, only NAME_CHARS, not `.` or `..`)."""
    if not isinstance(name, str) or not name:
        return f"a name must be non-empty text ({NAME_CHARS}), got {name!r}"
    if name in (".", ".."):
        return f"{name!r} is not a name (it is a folder reference)"
    if not _NAME.fullmatch(name):
        bad = sorted({c for c in name if not _NAME.fullmatch(c)})
        return f"{name!r} has characters {''.join(bad)!r}; a name may hold only {NAME_CHARS} (it becomes a folder name)"
    return None
