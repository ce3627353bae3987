"""Strings taken from an uploaded file, cut to a length a report can carry.

Every fact the verifier copies out of the file into its report — the XMP identifier and
types, the source XML's header values, certificate names, field names — is attacker
chosen.  Uncut, a 10 KB upload whose compressed source XML held a 10 MB sender made an
18 MB JSON answer and a 9 MB page, a 1 MB sender kept WeasyPrint busy for 110 s (under
the process's render lock) to draw a 282-page PDF report, and the facts cache held
hundreds of megabytes.  Cut where the facts are read, the cache, the page, the JSON and
the PDF report all see bounded text.
"""

from __future__ import annotations

MAX_FACT_CHARS = 200
"""Characters kept of one fact (a registration number is 18, a certificate name ~150)."""
MAX_NAME_CHARS = 600
"""Characters kept of a certificate name (several attributes, each labelled in Russian)."""


def clip(value: str, limit: int = MAX_FACT_CHARS) -> str:
    """``value``, or its first ``limit`` characters and how long it was."""
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… (всего {len(value)} знаков)"


def clip_optional(value: str | None, limit: int = MAX_FACT_CHARS) -> str | None:
    return None if value is None else clip(value, limit)
