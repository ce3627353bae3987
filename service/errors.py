"""The service's own exception hierarchy.

Every error a user can trigger is a :class:`MigdocsError`; the HTTP layer and the CLI map
them to a status code or exit code in one place each.  Builtin exceptions never leave a
public entry point.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One problem found in an input document."""

    line: int | None
    """1-based line in the posted XML, when known."""
    path: str
    """Location as an XPath of local names, e.g. ``/request/persons/person[2]/sex``."""
    message: str
    """What is wrong, in plain words."""
    code: str | None = None
    """Stable machine-readable name of the problem (e.g. ``not_a_date``); ``None`` → the
    code of the error that carries it (see :meth:`MigdocsError.details`)."""

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "line ?"
        return f"{where}: {self.path}: {self.message}"

    def as_dict(self, default_code: str = "error") -> dict[str, object]:
        return {
            "code": self.code or default_code,
            "line": self.line,
            "path": self.path,
            "message": self.message,
        }


class MigdocsError(Exception):
    """Base class of every error this service reports to its users."""

    code = "error"

    def __init__(self, message: str, violations: tuple[Violation, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.violations = violations

    def details(self) -> list[dict[str, object]]:
        """``details`` of the JSON error: one object per violation, each with its ``code``."""
        return [v.as_dict(self.code) for v in self.violations]

    def __str__(self) -> str:
        if not self.violations:
            return self.message
        return "\n".join([self.message, *(f"  {v}" for v in self.violations)])


class InputError(MigdocsError):
    """The posted document cannot be accepted as it is."""

    code = "invalid_input"


class InputTooLarge(InputError):
    code = "too_large"


class RequestTimeout(MigdocsError):
    """The client did not send its request (headers or body) within the time allowed."""

    code = "request_timeout"


class MalformedXml(InputError):
    code = "malformed_xml"


class UnsafeXml(InputError):
    """DTDs, entity declarations and similar constructs we never process."""

    code = "unsafe_xml"


class SchemaViolation(InputError):
    code = "schema_invalid"


class InconsistentDocument(InputError):
    """Well-formed and schema-valid, but its parts contradict each other or the Agreement."""

    code = "inconsistent"


class LimitExceeded(InconsistentDocument):
    """Valid, but beyond a published budget of the service (persons, pixels, pages, render
    time; see :mod:`service.pipeline.limits`).  HTTP 422 like every other valid-but-unacceptable
    document."""

    code = "limit_exceeded"


class BadImage(InputError):
    """A photo or fingerprint card that does not decode as its media type says (HTTP 400)."""

    code = "bad_image"


class RenderError(MigdocsError):
    """The document could not be turned into a PDF (a fault of ours, not of the input)."""

    code = "render_failed"


class FontMissing(RenderError):
    code = "font_missing"


class Forbidden(MigdocsError):
    """Authenticated, but not allowed to do this (e.g. send for another authority).

    Each detail also carries ``reason`` (the same as its ``code``, e.g. ``wrong-authority``),
    like the 403 answers of the signing checks."""

    code = "forbidden"

    def details(self) -> list[dict[str, object]]:
        return [{**d, "reason": d["code"]} for d in super().details()]


class NotFound(MigdocsError):
    """No such resource — or one the caller may not see (never reveal which)."""

    code = "not_found"


class Conflict(MigdocsError):
    """The same upstream document id was posted before with different content."""

    code = "conflict"


class UnsupportedMediaType(MigdocsError):
    code = "unsupported_media_type"


class Gone(MigdocsError):
    """The document existed but was destroyed under the retention rules (Art. 11.5)."""

    code = "gone"
