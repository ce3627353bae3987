# mypy: disallow-untyped-calls=False
"""Timestamp authorities (RFC 3161) behind pyHanko's :class:`TimeStamper` interface.

* :func:`http_timestamper` — a real TSA reached over HTTP (B-T signatures);
* :func:`local_timestamper` — a TSA key/certificate held locally (pyHanko's
  ``DummyTimeStamper``); for the demo instance and tests only, never production:
  a timestamp is only worth the independence of the authority issuing it.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from asn1crypto import keys, pem, x509
from pyhanko.sign.timestamps import DummyTimeStamper, HTTPTimeStamper, TimeStamper
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession

from .errors import ConfigurationError


@dataclass(frozen=True)
class TimestampConfig:
    """Where timestamps come from."""

    url: str | None = None
    """RFC 3161 endpoint; ``None`` = no timestamps (PAdES B-B)."""
    timeout: float = 10.0
    """HTTP timeout in seconds."""


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process.  pyHanko and pyhanko-certvalidator build a new one
    (loading the certifi bundle, ~60 ms) for every HTTP session, i.e. every timestamp
    and every revocation lookup."""
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_ssl_context()))


class _Session(LazySession):
    """pyhanko-certvalidator's lazy session on the shared TLS context."""

    def get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = _session()
        return self._session


def fetcher_backend() -> AIOHttpFetcherBackend:
    """A fetcher backend for one :class:`ValidationContext` (close it with
    ``await backend.close()`` in the same event loop)."""
    return AIOHttpFetcherBackend(_Session())  # type: ignore[arg-type]  # a LazySession is accepted


class _HTTPTimeStamper(HTTPTimeStamper):
    """pyHanko's HTTP timestamp client on the shared TLS context (one session per request,
    so the client can be reused across event loops)."""

    @asynccontextmanager
    async def _acquire_session(self) -> AsyncIterator[aiohttp.ClientSession]:
        session = _session()
        try:
            yield session
        finally:
            await session.close()


def http_timestamper(url: str, timeout: float = 10.0) -> TimeStamper:
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"TSA URL must be http(s): {url!r}")
    return _HTTPTimeStamper(url, timeout=timeout)


def timestamper_for(config: TimestampConfig) -> TimeStamper | None:
    return http_timestamper(config.url, config.timeout) if config.url else None


def _load_pem_or_der(data: bytes) -> bytes:
    if pem.detect(data):
        _, _, der = pem.unarmor(data)
        return bytes(der)
    return data


def local_timestamper(cert_path: Path, key_path: Path) -> TimeStamper:
    """A TSA signing with a local key (demo/tests).  The key file must be unencrypted."""
    try:
        cert = x509.Certificate.load(_load_pem_or_der(cert_path.read_bytes()))
        key = keys.PrivateKeyInfo.load(_load_pem_or_der(key_path.read_bytes()))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot load local TSA credentials: {exc}") from exc
    return DummyTimeStamper(tsa_cert=cert, tsa_key=key)
