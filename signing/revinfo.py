# mypy: disallow-untyped-calls=False
"""Revocation data for B-LT signing: gathered per document, with a short-lived cache.

:func:`gather` validates the signer's and the TSA's chains of a fresh signature and returns
the paths with the OCSP responses and CRLs that prove them, from the cache if it covers
every certificate, else fetched from the URLs in the certificates (then cached).

The cache (:class:`RevocationCache`):

Every document of a signatory needs the same answers — the signer's certificate, its CA,
the TSA's certificate — so fetching them for each document only adds round trips.  A
response is reused while it is fresh: for at most ``max_age`` seconds after it was
fetched and never past its own ``nextUpdate``.  OCSP responders commonly serve
pre-produced responses hours old; ``max_age`` (setting ``revocation_cache_seconds``,
default 60) bounds how long a revocation can go unnoticed by the signer.  ``0`` turns
the cache off.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from asn1crypto import crl, ocsp, x509
from pyhanko_certvalidator import ValidationContext


def _next_update(item: Any) -> datetime | None:
    try:
        if isinstance(item, crl.CertificateList):
            value = item["tbs_cert_list"]["next_update"].native
        else:
            basic = item["response_bytes"]["response"].parsed
            value = basic["tbs_response_data"]["responses"][0]["next_update"].native
    except (KeyError, IndexError, ValueError, TypeError):
        return None
    return value if isinstance(value, datetime) else None


class RevocationCache:
    """Thread-safe; one per signing configuration (per process)."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[bytes, tuple[float, datetime | None, Any]] = {}

    def fresh(self) -> tuple[list[ocsp.OCSPResponse], list[crl.CertificateList]]:
        """The cached OCSP responses and CRLs still usable now."""
        if self.max_age <= 0:
            return [], []
        now, wall = self._clock(), datetime.now(UTC)
        with self._lock:
            for key, (fetched, next_update, _) in list(self._items.items()):
                if now - fetched > self.max_age or (
                    next_update is not None and next_update <= wall
                ):
                    del self._items[key]
            items = [item for _, _, item in self._items.values()]
        return (
            [i for i in items if isinstance(i, ocsp.OCSPResponse)],
            [i for i in items if isinstance(i, crl.CertificateList)],
        )

    def add(self, items: Iterable[Any]) -> None:
        if self.max_age <= 0:
            return
        now = self._clock()
        with self._lock:
            for item in items:
                key = hashlib.sha256(item.dump()).digest()
                if key not in self._items:
                    self._items[key] = (now, _next_update(item), item)


Found = tuple[list[Any], list[ocsp.OCSPResponse], list[crl.CertificateList]]
"""Validation paths, OCSP responses and CRLs for the DSS."""


def _ocsp_serial(response: Any) -> int | None:
    try:
        basic = response["response_bytes"]["response"].parsed
        serial: int = basic["tbs_response_data"]["responses"][0]["cert_id"]["serial_number"].native
        return serial
    except (KeyError, IndexError, ValueError, TypeError):
        return None


async def _from_cache(
    embedded: Any,
    roots: list[x509.Certificate],
    others: list[x509.Certificate],
    cache: RevocationCache,
) -> Found | None:
    from pyhanko.sign.validation.dss import collect_validation_info

    ocsps, crls = cache.fresh()
    if not ocsps and not crls:
        return None
    vc = ValidationContext(
        trust_roots=roots,
        other_certs=others,
        ocsps=ocsps,
        crls=crls,
        allow_fetching=False,
        revocation_mode="hard-fail",
        retroactive_revinfo=True,
    )
    try:
        paths = await collect_validation_info(embedded, vc)
    except Exception:  # something not cached (a new signer or TSA): fetch instead
        return None
    # only what concerns these chains goes into the DSS (the cache holds other signers' too)
    certs = [c for path in paths for c in path]
    serials = {c.serial_number for c in certs}
    issuers = {c.issuer.dump() for c in certs}
    return (
        list(paths),
        [o for o in ocsps if _ocsp_serial(o) in serials],
        [c for c in crls if c["tbs_cert_list"]["issuer"].dump() in issuers],
    )


async def gather(
    embedded: Any,
    roots: list[x509.Certificate],
    others: list[x509.Certificate],
    cache: RevocationCache | None,
) -> Found:
    """Paths and revocation data for ``embedded`` (a signature in a PDF); raises
    certvalidator's errors (``RevokedError`` …) when the chain cannot be proven good."""
    from pyhanko.sign.validation.dss import collect_validation_info

    from .timestamps import fetcher_backend

    if cache is not None:
        found = await _from_cache(embedded, roots, others, cache)
        if found is not None:
            return found
    backend = fetcher_backend()
    vc = ValidationContext(
        trust_roots=roots,
        other_certs=others,
        allow_fetching=True,
        revocation_mode="hard-fail",
        fetcher_backend=backend,
        # "now" is fixed when the context is made; answers fetched a moment later (a
        # slow responder, a loaded machine) must not count as "too recent"
        retroactive_revinfo=True,
    )
    try:
        paths = await collect_validation_info(embedded, vc)
        ocsps, crls = list(vc.ocsps), list(vc.crls)
    finally:
        await vc.aclose()
        await backend.close()
    if cache is not None:
        cache.add([*ocsps, *crls])
    return list(paths), ocsps, crls
