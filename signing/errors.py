"""The exception hierarchy of :mod:`signing`.

Every public entry point of the library raises only :class:`SigningError`
subclasses; no builtin exception leaks out.  Each error carries a stable
machine-readable :attr:`SigningError.code` (mapped to HTTP statuses by the
service in one place) and a human sentence that names the reason.
"""

from __future__ import annotations

from typing import ClassVar


class SigningError(Exception):
    """Base class of all errors raised by :mod:`signing`."""

    code: ClassVar[str] = "signing-error"
    """Stable identifier of the error kind (for APIs and logs)."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.code
        """Finer-grained reason code (e.g. ``wrong-authority``)."""

    def __str__(self) -> str:
        return self.message


class ConfigurationError(SigningError):
    """Missing or inconsistent configuration (font file, key locator, …)."""

    code = "configuration-error"


class RegistryError(SigningError):
    """Invalid registry operation (duplicate id, unknown authority, bad window…)."""

    code = "registry-error"


class SignatoryUnknown(SigningError):
    """No signatory with that identifier has ever been registered."""

    code = "signatory-unknown"


class SignatoryNotAuthorised(SigningError):
    """The signatory exists but may not sign this document now.

    ``reason`` is one of ``wrong-authority``, ``document-type``,
    ``outside-validity-window``, ``revoked``, ``authority-inactive``.
    """

    code = "signatory-not-authorised"


class CertificateNotUsable(SigningError):
    """The signatory's certificate cannot make this signature.

    ``reason`` is one of ``expired``, ``not-yet-valid``, ``key-usage``,
    ``key-mismatch``, ``revoked`` (the CA's OCSP/CRL says so while gathering B-LT data).
    """

    code = "certificate-not-usable"


class KeyUnavailable(SigningError):
    """The private key could not be loaded (missing file, wrong passphrase, token…)."""

    code = "key-unavailable"


class InvalidDocument(SigningError):
    """The input is not a PDF we can sign (unreadable, encrypted, …)."""

    code = "invalid-document"


class TimestampUnavailable(SigningError):
    """The configured timestamp authority did not answer with a usable token."""

    code = "timestamp-unavailable"


class RevocationInfoUnavailable(SigningError):
    """B-LT was requested but revocation information could not be gathered."""

    code = "revocation-info-unavailable"


class PdfAViolation(SigningError):
    """Signing would have broken a PDF/A property of the document."""

    code = "pdfa-violation"


class VerificationBudgetExceeded(SigningError):
    """A verification ran out of its time, node or decompression budget (hostile or
    pathological input); reported as ``INDETERMINATE`` / ``DAMAGED_PDF``."""

    code = "budget-exceeded"


class MalformedPdfStructure(SigningError):
    """The PDF's object graph is not what the standard allows (a page or field tree
    with a cycle or a shared node); reported as ``INDETERMINATE`` / ``DAMAGED_PDF``."""

    code = "malformed-structure"
