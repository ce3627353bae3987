# mypy: disallow-untyped-calls=False
"""The one interface every signing key sits behind when the key is *not* in this process:
an HSM with vendor mechanisms, or a remote signing service (algorithm agility, issue 14).

A deployment plugs in a :class:`SignatureMechanism`: it names the CMS signature algorithm
(OID and parameters) and the digest algorithm, and turns the DER of the signed
attributes into a raw signature value.  Everything else — the CMS structure, the PAdES
attributes, the timestamp, the DSS, PDF/A — stays ours and is the same for RSA, ECDSA,
GOST 34.310 or STB 34.101.45 «bign».

Mechanisms are registered by name (:func:`register_mechanism`), usually by a plug-in
module named in the setting ``signer_plugins``; a signatory's key reference is then
``external`` with the locator ``mechanism=<name>;key=<label>[;k=v…]`` (the pairs go to
the mechanism's factory, secrets by ``pin-env``/``pin-file`` as for PKCS#11).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

from asn1crypto import algos, x509
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .errors import ConfigurationError, KeyUnavailable
from .keys import KeyBackend, parse_locator


class SignatureMechanism(Protocol):
    """A key that signs somewhere else."""

    signature_algorithm: algos.SignedDigestAlgorithm
    """What goes into the SignerInfo, e.g. ``{"algorithm": "sha256_rsa"}``, or for bign
    ``{"algorithm": "1.2.112.0.2.0.34.101.45.12"}`` (bign-with-hbelt)."""
    digest_algorithm: str
    """The digest pyHanko computes over the document and the signed attributes (a name
    known to ``hashlib``/``cryptography``; national digests need a hash plug-in too)."""
    signature_size: int
    """Upper bound of the signature value in bytes (room reserved in the PDF)."""

    def sign(self, data: bytes) -> bytes:
        """The raw signature of ``data`` (DER of the signed attributes); may block."""


MechanismFactory = Callable[[Mapping[str, str], x509.Certificate], SignatureMechanism]

_MECHANISMS: dict[str, MechanismFactory] = {}
_LOCK = threading.Lock()


def register_mechanism(name: str, factory: MechanismFactory) -> None:
    """Make ``mechanism=<name>`` available to ``external`` key references."""
    with _LOCK:
        _MECHANISMS[name] = factory


def registered_mechanisms() -> tuple[str, ...]:
    with _LOCK:
        return tuple(sorted(_MECHANISMS))


class MechanismSigner(Signer):
    """pyHanko signer whose private-key operation is a :class:`SignatureMechanism`."""

    def __init__(
        self,
        signing_cert: x509.Certificate,
        mechanism: SignatureMechanism,
        other_certs: tuple[x509.Certificate, ...] = (),
    ) -> None:
        store = SimpleCertificateStore()
        store.register_multiple(list(other_certs))
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=store,
            signature_mechanism=mechanism.signature_algorithm,
            embed_roots=True,
        )
        self.mechanism = mechanism

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if dry_run:  # size estimate only: never ask the token or the service
            return bytes(self.mechanism.signature_size)
        if digest_algorithm != self.mechanism.digest_algorithm:
            raise KeyUnavailable(
                f"mechanism signs with {self.mechanism.digest_algorithm}, not {digest_algorithm}"
            )
        loop = asyncio.get_running_loop()
        return bytes(await loop.run_in_executor(None, self.mechanism.sign, data))


class ExternalBackend(KeyBackend):
    """Key references ``external``: ``mechanism=<name>;key=<label>;…``."""

    name = "external"

    def load_signer(self, locator: str, certificate: x509.Certificate) -> Signer:
        _bare, pairs = parse_locator(locator)
        name = pairs.get("mechanism")
        if not name:
            raise ConfigurationError("external locator needs mechanism=<name>")
        with _LOCK:
            factory = _MECHANISMS.get(name)
        if factory is None:
            known = ", ".join(registered_mechanisms()) or "none registered"
            raise KeyUnavailable(
                f"no signature mechanism {name!r} (known: {known}); "
                "is its plug-in listed in signer_plugins?"
            )
        try:
            mechanism = factory(pairs, certificate)
        except (KeyUnavailable, ConfigurationError):
            raise
        except Exception as exc:  # a vendor library's own error types
            raise KeyUnavailable(
                f"mechanism {name!r} could not open key {pairs.get('key')!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return MechanismSigner(certificate, mechanism)
