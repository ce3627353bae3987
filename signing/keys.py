"""Key backends: where private keys live and how they become pyHanko signers.

A :class:`KeyBackend` turns a :class:`~signing.registry.KeyReference` plus the
registered certificate into a pyHanko :class:`~pyhanko.sign.signers.Signer`.
Implementations:

* :class:`Pkcs12Backend` — encrypted PKCS#12 file; the passphrase comes from an
  environment variable or a file named in the locator, never from the command
  line, never logged.
* :class:`Pkcs11Backend` — a token through a PKCS#11 module (SoftHSM2 in tests,
  an HSM or a national-algorithm provider in production).
* :class:`MemoryBackend` — keys handed over in memory (tests, benchmarks).

:class:`KeyStore` caches signers per process: a key is parsed (or a token
session opened) once, not per signature.  pyHanko's ``SimpleSigner`` re-loads the
private key from DER in every ``sign_raw`` call, and ``cryptography`` re-checks
RSA keys on load (~110 ms for RSA-3072); :class:`LoadedKeySigner` keeps the
loaded key object instead.

Locator syntax (``;``-separated ``key=value`` pairs, first item may be a bare path):

* pkcs12: ``PATH[;passphrase-env=VAR][;passphrase-file=PATH]`` (default env
  var :data:`DEFAULT_PASSPHRASE_ENV`);
* pkcs11: ``module=PATH;token=LABEL;key=LABEL[;cert=LABEL][;pin-env=VAR]
  [;pin-file=PATH]`` (default env var :data:`DEFAULT_PIN_ENV`);
* memory: ``NAME``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import tsp, x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers import Signer
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

from .errors import CertificateNotUsable, ConfigurationError, KeyUnavailable
from .registry import KeyReference

DEFAULT_PASSPHRASE_ENV = "MIGDOCS_KEY_PASSPHRASE"
DEFAULT_PIN_ENV = "MIGDOCS_PKCS11_PIN"


# --------------------------------------------------------------------------- signer


class _CachedAttribute(CMSAttributeProvider):
    """Attribute provider returning a value pre-serialised once per signer."""

    def __init__(self, attribute_type: str, value_cls: Any, der: bytes) -> None:
        self.attribute_type = attribute_type
        self._cls = value_cls
        self._der = der

    async def build_attr_value(self, dry_run: bool = False) -> Any:
        # a freshly parsed value: cheap to re-serialise, no shared mutable state
        return self._cls.load(self._der)


class FastAttributesMixin:
    """Serves the constant signing-certificate-v2 attribute from a cache.

    asn1crypto re-serialises the freshly built ``SigningCertificateV2`` (issuer
    name as GeneralNames) many times over while the CMS is assembled: measured
    ~17 ms per signature with a Cyrillic issuer DN, more than the RSA-3072
    private-key operation itself.  Its value depends only on the certificate.
    """

    _scv2_der: bytes | None = None

    def _signed_attr_providers(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        providers = super()._signed_attr_providers(*args, **kwargs)  # type: ignore[misc]
        for prov in providers:
            if isinstance(prov, SigningCertificateV2Provider):
                if self._scv2_der is None:
                    self._scv2_der = as_signing_certificate_v2(prov.signing_cert).dump()
                yield _CachedAttribute(
                    "signing_certificate_v2", tsp.SigningCertificateV2, self._scv2_der
                )
            else:
                yield prov


class LoadedKeySigner(FastAttributesMixin, Signer):
    """A pyHanko signer that keeps the loaded ``cryptography`` private key.

    Supports RSA (PKCS#1 v1.5 and PSS) and ECDSA, the algorithms we sign with
    today; other algorithms plug in as other :class:`Signer` implementations.
    """

    def __init__(
        self,
        signing_cert: x509.Certificate,
        private_key: PrivateKeyTypes,
        other_certs: Iterable[x509.Certificate] = (),
        *,
        embed_roots: bool = True,
    ) -> None:
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyUnavailable(
                f"unsupported key type {type(private_key).__name__}: only RSA and ECDSA "
                "are implemented (national algorithms need an external signer)"
            )
        self._private_key = private_key
        # objects parsed from DER re-serialise cheaply (constructed ones do not)
        signing_cert = x509.Certificate.load(signing_cert.dump())
        other_certs = [x509.Certificate.load(c.dump()) for c in other_certs]
        store = SimpleCertificateStore()  # type: ignore[no-untyped-call]
        store.register_multiple(list(other_certs))
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=store,
            embed_roots=embed_roots,
        )

    @property
    def private_key(self) -> PrivateKeyTypes:
        return self._private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mech = self.get_signature_mechanism_for_digest(digest_algorithm)
        algo = mech.signature_algo
        key = self._private_key
        if algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if algo == "rsassa_pss" and isinstance(key, rsa.RSAPrivateKey):
            pss, hash_algo = process_pss_params(mech["parameters"])
            return key.sign(data, pss, hash_algo)
        if algo == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        raise KeyUnavailable(f"signature mechanism {algo} does not fit the loaded key")

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        return self.sign_raw(data, digest_algorithm)


def public_key_matches(cert: x509.Certificate, key: PrivateKeyTypes) -> bool:
    """True if ``key`` is the private half of ``cert``'s public key."""
    pub = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return bool(pub == cert.public_key.dump())


# --------------------------------------------------------------------------- locators


def parse_locator(locator: str) -> tuple[str | None, dict[str, str]]:
    """Split ``PATH;k=v;k=v`` into the bare first item (if any) and the pairs."""
    bare: str | None = None
    pairs: dict[str, str] = {}
    for i, part in enumerate(p.strip() for p in locator.split(";")):
        if not part:
            continue
        if "=" in part:
            k, v = part.split("=", 1)
            pairs[k.strip()] = v.strip()
        elif i == 0:
            bare = part
        else:
            raise ConfigurationError(f"malformed key locator item {part!r}")
    return bare, pairs


def read_secret(
    pairs: Mapping[str, str], kind: str, default_env: str, env: Mapping[str, str]
) -> str:
    """Read a passphrase/PIN from ``<kind>-env`` or ``<kind>-file`` (never logged)."""
    if f"{kind}-file" in pairs:
        path = Path(pairs[f"{kind}-file"])
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise KeyUnavailable(f"cannot read {kind} file {path}: {exc.strerror}") from exc
    var = pairs.get(f"{kind}-env", default_env)
    value = env.get(var)
    if value is None:
        raise KeyUnavailable(f"{kind} not provided: set environment variable {var}")
    return value


# --------------------------------------------------------------------------- backends


class KeyBackend(ABC):
    """Turns a key reference into a pyHanko signer for the given certificate."""

    name: str

    @abstractmethod
    def load_signer(self, locator: str, certificate: x509.Certificate) -> Signer:
        """Load the key once; the result is cached by :class:`KeyStore`.

        Must raise :class:`KeyUnavailable` / :class:`CertificateNotUsable` only.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (sessions) held by this backend."""


class Pkcs12Backend(KeyBackend):
    name = "pkcs12"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = env

    def load_signer(self, locator: str, certificate: x509.Certificate) -> Signer:
        path_str, pairs = parse_locator(locator)
        path_str = path_str or pairs.get("path")
        if not path_str:
            raise ConfigurationError("pkcs12 locator needs a file path")
        env = os.environ if self._env is None else self._env
        passphrase = read_secret(pairs, "passphrase", DEFAULT_PASSPHRASE_ENV, env)
        try:
            data = Path(path_str).read_bytes()
        except OSError as exc:
            raise KeyUnavailable(f"cannot read PKCS#12 file {path_str}: {exc.strerror}") from exc
        try:
            key, _cert, extra = pkcs12.load_key_and_certificates(data, passphrase.encode())
        except (ValueError, UnsupportedAlgorithm) as exc:
            # message deliberately generic: never echo secrets or key material
            raise KeyUnavailable(
                f"cannot open PKCS#12 file {path_str} (wrong passphrase or corrupt file)"
            ) from exc
        if key is None:
            raise KeyUnavailable(f"PKCS#12 file {path_str} holds no private key")
        if not public_key_matches(certificate, key):
            raise CertificateNotUsable(
                f"the key in {path_str} does not belong to the registered certificate",
                reason="key-mismatch",
            )
        others = [x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra]
        return LoadedKeySigner(certificate, key, others)


class MemoryBackend(KeyBackend):
    """Keys registered in memory under a name (tests and benchmarks)."""

    name = "memory"

    def __init__(self) -> None:
        self._keys: dict[str, tuple[PrivateKeyTypes, tuple[x509.Certificate, ...]]] = {}

    def add(
        self, name: str, key: PrivateKeyTypes, other_certs: Iterable[x509.Certificate] = ()
    ) -> None:
        self._keys[name] = (key, tuple(other_certs))

    def load_signer(self, locator: str, certificate: x509.Certificate) -> Signer:
        try:
            key, others = self._keys[locator]
        except KeyError:
            raise KeyUnavailable(f"no in-memory key named {locator!r}") from None
        if not public_key_matches(certificate, key):
            raise CertificateNotUsable(
                f"in-memory key {locator!r} does not belong to the registered certificate",
                reason="key-mismatch",
            )
        return LoadedKeySigner(certificate, key, others)


class Pkcs11Backend(KeyBackend):
    """Keys on a PKCS#11 token, one logged-in session per (module, token) per process.

    EC keys use the raw ``CKM_ECDSA`` mechanism with hashing done by pyHanko
    (SoftHSM2 has no combined ``CKM_ECDSA_SHA256``).  Signing operations on a
    shared session are serialised with a lock: PKCS#11 sessions keep one
    operation state at a time.
    """

    name = "pkcs11"

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = env
        self._sessions: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _session(self, module: str, token: str, pin: str) -> Any:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import open_pkcs11_session

        with self._lock:
            sess = self._sessions.get((module, token))
            if sess is None:
                try:
                    sess = open_pkcs11_session(
                        module, token_criteria=TokenCriteria(label=token), user_pin=pin
                    )
                except Exception as exc:  # python-pkcs11 raises many unrelated types
                    raise KeyUnavailable(
                        f"cannot open PKCS#11 token {token!r} via {module}: {type(exc).__name__}"
                    ) from exc
                self._sessions[(module, token)] = sess
            return sess

    def load_signer(self, locator: str, certificate: x509.Certificate) -> Signer:
        from pyhanko.sign.pkcs11 import PKCS11Signer

        _bare, pairs = parse_locator(locator)
        try:
            module, token, key_label = pairs["module"], pairs["token"], pairs["key"]
        except KeyError as exc:
            raise ConfigurationError(f"pkcs11 locator lacks {exc.args[0]}=") from None
        env = os.environ if self._env is None else self._env
        pin = read_secret(pairs, "pin", DEFAULT_PIN_ENV, env)
        session = self._session(module, token, pin)
        is_ec = certificate.public_key.algorithm == "ec"
        op_lock = threading.Lock()

        class _Signer(FastAttributesMixin, PKCS11Signer):
            """PKCS11Signer whose token operations are serialised by a lock."""

            async def async_sign_raw(
                self, data: bytes, digest_algorithm: str, dry_run: bool = False
            ) -> bytes:
                if dry_run:
                    return bytes(await super().async_sign_raw(data, digest_algorithm, True))
                await self.ensure_objects_loaded()  # type: ignore[no-untyped-call]
                spec = self._select_pkcs11_signing_params(
                    digest_algorithm, sign_kwargs=self.sign_kwargs(data)
                )
                payload = data if spec.pre_sign_transform is None else spec.pre_sign_transform(data)
                key_handle = self._key_handle
                assert key_handle is not None

                def _run() -> bytes:
                    with op_lock:
                        sig = key_handle.sign(payload, **spec.sign_kwargs)
                    if spec.post_sign_transform is not None:
                        sig = spec.post_sign_transform(sig)
                    return bytes(sig)

                return await asyncio.get_running_loop().run_in_executor(None, _run)

        try:
            signer = _Signer(
                session,
                signing_cert=certificate,
                key_label=key_label,
                cert_label=pairs.get("cert", key_label),
                use_raw_mechanism=is_ec,
                other_certs_to_pull=None if "cert" in pairs else (),
            )
            # load cert + key handle now, so a wrong label fails here, not mid-signing
            signer._load_objects()  # type: ignore[no-untyped-call]
        except Exception as exc:
            raise KeyUnavailable(
                f"key {key_label!r} not usable on token {token!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return signer

    def close(self) -> None:
        with self._lock:
            for sess in self._sessions.values():
                with contextlib.suppress(Exception):  # best effort on shutdown
                    sess.close()
            self._sessions.clear()


# --------------------------------------------------------------------------- store


@dataclass(frozen=True)
class _CacheKey:
    backend: str
    locator: str
    certificate_der: bytes


class KeyStore:
    """Per-process cache of loaded signers, keyed by key reference and certificate.

    After ``fork()`` the cache is dropped (PKCS#11 sessions and locks must not
    be shared across processes, e.g. gunicorn workers).
    """

    def __init__(self, backends: Iterable[KeyBackend] | None = None) -> None:
        self._backends: dict[str, KeyBackend] = {}
        for b in backends if backends is not None else (Pkcs12Backend(), Pkcs11Backend()):
            self.register(b)
        self._cache: dict[_CacheKey, Signer] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def register(self, backend: KeyBackend) -> None:
        self._backends[backend.name] = backend

    def backend(self, name: str) -> KeyBackend:
        try:
            return self._backends[name]
        except KeyError:
            raise ConfigurationError(
                f"unknown key backend {name!r} (known: {', '.join(sorted(self._backends))})"
            ) from None

    def signer_for(self, ref: KeyReference, certificate_der: bytes) -> Signer:
        """The cached signer for this key and certificate, loading it on first use."""
        if os.getpid() != self._pid:
            self._cache.clear()
            self._pid = os.getpid()
        key = _CacheKey(ref.backend, ref.locator, certificate_der)
        signer = self._cache.get(key)
        if signer is not None:
            return signer
        with self._lock:
            signer = self._cache.get(key)
            if signer is None:
                cert = x509.Certificate.load(certificate_der)
                signer = self.backend(ref.backend).load_signer(ref.locator, cert)
                self._cache[key] = signer
        return signer

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            for b in self._backends.values():
                b.close()


def load_private_key_pem(data: bytes, password: bytes | None = None) -> PrivateKeyTypes:
    """Small helper for tests/demo: load a PEM private key."""
    return serialization.load_pem_private_key(data, password=password)


__all__ = [
    "DEFAULT_PASSPHRASE_ENV",
    "DEFAULT_PIN_ENV",
    "KeyBackend",
    "KeyStore",
    "LoadedKeySigner",
    "MemoryBackend",
    "Pkcs11Backend",
    "Pkcs12Backend",
    "load_private_key_pem",
    "parse_locator",
    "public_key_matches",
]
