"""The service's signing settings: :class:`signing.api.SigningConfig` from :class:`Settings`.

One place for the app, the CLI and the signatory lists, so every document of a node is
signed at the same PAdES level (``signature_level``) with the same TSA and trust roots.
"""

from __future__ import annotations

import importlib

from asn1crypto import pem
from pyhanko.sign.timestamps import TimeStamper

from service.config import ConfigError, Settings
from service.domain.verification import trust_root_files
from signing.api import SigningConfig
from signing.pades import LtvConfig
from signing.revinfo import RevocationCache
from signing.timestamps import http_timestamper

DEMO_PKI_PATH = "/demo-pki"


def demo_services_url(settings: Settings) -> str:
    """Where the node serves the demo CRLs/OCSP/TSA (``<base_url>/demo-pki``)."""
    return settings.base_url.rstrip("/") + DEMO_PKI_PATH


def tsa_url(settings: Settings) -> str | None:
    """The configured TSA, else the node's demo TSA when ``demo_pki`` is on."""
    if settings.tsa_url:
        return settings.tsa_url
    return demo_services_url(settings) + "/tsa" if settings.demo_pki else None


def _root_ders(settings: Settings) -> tuple[bytes, ...]:
    ders: list[bytes] = []
    for path in trust_root_files(settings):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"setting trust_roots: cannot read {path}: {exc.strerror}") from None
        if pem.detect(data):
            ders.extend(bytes(der) for _, _, der in pem.unarmor(data, multiple=True))
        else:
            ders.append(data)
    return tuple(ders)


def load_signer_plugins(settings: Settings) -> None:
    """Import the modules of ``signer_plugins`` (they register external mechanisms)."""
    for name in (settings.signer_plugins or "").split(","):
        if name.strip():
            try:
                importlib.import_module(name.strip())
            except ImportError as exc:
                raise ConfigError(
                    f"setting signer_plugins: cannot import {name!r}: {exc}"
                ) from None


def signing_config(settings: Settings) -> SigningConfig:
    """Signing settings for this node; a level its settings cannot reach is an error."""
    load_signer_plugins(settings)
    tsa = tsa_url(settings)
    level = settings.signature_level or ("B-T" if tsa else "B-B")
    if level != "B-B" and tsa is None:
        raise ConfigError(f"setting signature_level: {level} needs tsa_url (or demo_pki)")
    ltv = None
    if level in ("B-LT", "B-LTA"):
        roots = _root_ders(settings)
        if not roots:
            raise ConfigError(f"setting signature_level: {level} needs trust_roots")
        ltv = LtvConfig(
            trust_roots=roots,
            required=True,
            cache=RevocationCache(settings.revocation_cache_seconds),
        )
    return SigningConfig(
        base_url=settings.base_url,
        tsa_url=tsa if level != "B-B" else None,
        ltv=ltv,
        archive_timestamp=level == "B-LTA",
    )


def archive_setup(settings: Settings) -> tuple[TimeStamper, LtvConfig]:
    """TSA and trust roots for archive timestamps (``migdocs timestamps renew``)."""
    tsa = tsa_url(settings)
    if tsa is None:
        raise ConfigError("archive timestamps need tsa_url (or demo_pki)")
    roots = _root_ders(settings)
    if not roots:
        raise ConfigError("archive timestamps need trust_roots")
    return http_timestamper(tsa), LtvConfig(trust_roots=roots, required=True)
