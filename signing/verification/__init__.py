"""Verification of signed documents: PDF bytes → a DSS-style report (ETSI EN 319 102-1).

One overall indication per signature — ``TOTAL_PASSED``, ``TOTAL_FAILED`` or
``INDETERMINATE`` — with a sub-indication and the list of checks behind it, each
``PASSED`` / ``FAILED`` / ``WARNING`` with a plain Russian sentence.  On top of pyHanko's
cryptographic validation: the signer was a registered signatory of the stated authority
for that document type at signing time; what changed after signing; and, for the whole
document, PDF/A identification, the embedded source XML and whether this service knows
the document.

Precedence of the per-signature indication: :data:`.verdict.PRECEDENCE` (ETSI EN 319
102-1 style — a proven failure beats a missing proof, first match wins).  The registry
check is a validation constraint of our signature policy; ETSI reports a failed
constraint as ``INDETERMINATE`` / ``SIG_CONSTRAINTS_FAILURE`` (the check itself is
``FAILED``).

Never raises on bad input: a file that is not a PDF, a damaged PDF, a PDF without
signatures or one that exceeds the verification budget gets a report saying so.  Nothing
here touches the network (``allow_fetching=False``); trust roots are parsed once.

The package is split by concern: :mod:`.report` (report types), :mod:`.structure`
(bounded reading and coverage from the bytes), :mod:`.changes` (what changed after
signing), :mod:`.facts` (XMP and source XML of the signed revision), :mod:`.trust`
(trust roots, registry), :mod:`.checks` and :mod:`.signature` (one signature),
:mod:`.verdict` (ETSI precedence), :mod:`.document` and :mod:`.document_checks` (the whole
file).
"""

from .. import speedups
from ..loops import run_sync
from .changes import describe_changes
from .document import EXIT_CODES, async_verify_document, verify_document
from .report import (
    CHECK_TITLES,
    FAILED,
    FORM_PREFIX,
    PASSED,
    SOURCE_XML_NAME,
    WARNING,
    CertificateInfo,
    Check,
    CheckStatus,
    Indication,
    KnownDocument,
    KnownDocumentLookup,
    RegistryFinding,
    RegistryLookup,
    RegistryQuery,
    SignatoryInfo,
    SignatureReport,
    SourceValidator,
    SourceXmlInfo,
    VerificationReport,
    root_to_type,
)
from .trust import SessionRegistryLookup, TrustRoots

speedups.install()

__all__ = [
    "CHECK_TITLES",
    "EXIT_CODES",
    "FAILED",
    "FORM_PREFIX",
    "PASSED",
    "SOURCE_XML_NAME",
    "WARNING",
    "CertificateInfo",
    "Check",
    "CheckStatus",
    "Indication",
    "KnownDocument",
    "KnownDocumentLookup",
    "RegistryFinding",
    "RegistryLookup",
    "RegistryQuery",
    "SessionRegistryLookup",
    "SignatoryInfo",
    "SignatureReport",
    "SourceValidator",
    "SourceXmlInfo",
    "TrustRoots",
    "VerificationReport",
    "async_verify_document",
    "describe_changes",
    "root_to_type",
    "run_sync",
    "verify_document",
]
