"""Credential redaction for everything sycolab stores or reports from an HTTP endpoint (verdict cache rows, the
judge errors in samples.jsonl, error messages, logs).

A server may echo what it was sent (a proxy's error page quoting the request headers, a test judge
repeating its input), so replies are not trusted to be free of the key: the key's value is replaced
wherever it occurs, and so is any `Authorization: ...` header value, `Bearer <token>`, `api_key=<value>`
and the password of a `https://user:password@host` URL in the text, whichever key produced them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "***"

_PATTERNS = (
    # "Bearer sk-...": the token after the scheme
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;()}\]]+"), r"\g<1>" + REDACTED),
    # "Authorization: [<scheme> ]<credentials>", '"authorization": "Basic <credentials>"'
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)([a-z]+\s+)?[^\s\"',;()}\]]+"), r"\g<1>\g<2>" + REDACTED),
    # "api_key=<value>", '"api-key": "<value>"', "x-api-key: <value>"
    (re.compile(r"(?i)(api[_-]?key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;()}\]]+"), r"\g<1>" + REDACTED),
    # a password in a URL: "https://user:<password>@host/v1"
    (re.compile(r"(?i)(\bhttps?://[^/\s:@]+:)[^/\s@]+@"), r"\g<1>" + REDACTED + "@"),
)


def redact_credentials(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every value in `secrets` and every credential-shaped string replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
