"""Typed, layered configuration: defaults → TOML file / environment → test mapping.

Read in :func:`service.app.create_app`, never at import time.  Every key has a field in
:class:`Settings`; an unknown key anywhere is an error, so a typo never goes unnoticed.

Environment variables are the field names in capitals with a ``MIGDOCS_`` prefix
(``MIGDOCS_BASE_URL``), plus ``DATABASE_URL``; ``MIGDOCS_CONFIG`` names a TOML file.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from service.errors import MigdocsError
from service.pipeline.limits import DEFAULT_LIMITS, Limits
from signing.settings import DEFAULT_BASE_URL, database_url, instance_dir

ENV_PREFIX = "MIGDOCS_"
NOT_SETTINGS = frozenset(
    {
        "CONFIG",
        "KEY_PASSPHRASE",
        "PKCS11_PIN",
        "OFFICER_PASSWORD",
        "FONT_DIR",
        "FONT_CACHE",
        "TEST_POSTGRES",
        "SEAL_PASSPHRASE",
    }
)
"""``MIGDOCS_*`` variables read elsewhere (secrets, fonts, tests): not settings, not errors."""


SIGNATURE_LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


class ConfigError(MigdocsError):
    code = "config_error"


@dataclass(frozen=True)
class Settings:
    """Service settings.  Paths default to the instance directory."""

    instance_dir: Path = field(default_factory=instance_dir)
    """Where the embedded default keeps its database, files, PKI and secret key."""
    database_url: str = ""
    """SQLAlchemy URL; default SQLite file ``<instance>/migdocs.sqlite3``."""
    storage_dir: Path | None = None
    """Root of stored PDFs and XML; default ``<instance>/documents``."""
    storage_backend: str = "files"
    """Where PDFs and XML live: ``files`` (under ``storage_dir``, one host) or ``database``
    (PostgreSQL only; in the transaction of their row: any number of stateless hosts)."""
    secret_key: str = ""
    """Signs session cookies; default: generated once into ``<instance>/secret_key``."""
    base_url: str = DEFAULT_BASE_URL
    """Public base URL, printed in signature blocks and QR codes."""
    max_content_length: int = 24 * 1024 * 1024
    """Largest request body accepted (bytes); larger gets 413."""
    max_xml_bytes: int = 16 * 1024 * 1024
    """Largest XML document accepted (bytes)."""
    max_persons: int = DEFAULT_LIMITS.max_persons
    """Most persons one document may list (more gets 422 before rendering)."""
    max_pages: int = DEFAULT_LIMITS.max_pages
    """Most pages of a rendered document (more gets 422; nothing is signed)."""
    max_image_pixels: int = DEFAULT_LIMITS.max_image_pixels
    """Most pixels (width × height) of one image (more gets 422 before decoding)."""
    max_total_image_pixels: int = DEFAULT_LIMITS.max_total_image_pixels
    """Most pixels of all images of one document together."""
    max_render_seconds: float = DEFAULT_LIMITS.max_render_seconds
    """Longest layout of one document (longer gets 422; nothing is signed)."""
    tsa_url: str | None = None
    """RFC 3161 timestamp authority (production: the Party's accredited TSA); set it for
    PAdES B-T and above."""
    signature_level: str | None = None
    """PAdES level of issued documents: ``B-B``, ``B-T``, ``B-LT`` (timestamp + CRL/OCSP
    of the whole chain in the DSS) or ``B-LTA`` (plus a document timestamp over the DSS).
    Default: ``B-T`` with a TSA, else ``B-B``.  B-LT/B-LTA fetch revocation data from the
    URLs in the certificates and validate against ``trust_roots``."""
    revocation_cache_seconds: int = 60
    """B-LT/B-LTA signing reuses a fetched OCSP response or CRL for this long (never past
    its nextUpdate): one OCSP round trip per signer and TSA per minute instead of per
    document.  It bounds how long a fresh revocation can go unnoticed; 0 = fetch always."""
    signer_plugins: str | None = None
    """Comma-separated Python modules imported before signing: each registers external
    signature mechanisms (``signing.external.register_mechanism``) — an HSM's vendor
    mechanism or a remote signer, e.g. for GOST 34.310 or STB 34.101.45 (bign) keys."""
    demo_pki: bool = False
    """Serve the demo PKI's CRLs, OCSP responder and TSA under ``/demo-pki`` (and use that
    TSA when ``tsa_url`` is unset).  For ``scripts/run.sh`` only: never in production."""
    session_cookie_secure: bool = True
    """Send the officer session cookie over HTTPS only (turn off for plain-HTTP dev)."""
    page_size: int = 50
    """Documents per page in lists."""
    trust_roots: str | None = None
    """Trust anchors for verification: comma-separated PEM files (the two countries' root
    CAs); default: the demo roots ``<instance>/pki/*-root.pem`` if present."""
    seal_pkcs12: Path | None = None
    """PKCS#12 of the service's own seal (signs verification reports); passphrase in
    ``$MIGDOCS_SEAL_PASSPHRASE`` or ``<file>.pass``.  Default: a demo seal made on first use
    in ``<instance>/pki/seal.p12``, issued by the KZ demo root."""
    retention_days: dict[str, int] = field(default_factory=lambda: {"default": 1825})
    """Days a document is kept after registration, per document type; ``default`` for the
    rest (Art. 11.5: no longer than its purpose requires).  TOML: a table; environment:
    ``request=1825,response=1095,default=1825``."""
    session_absolute_minutes: int = 480
    """An officer's session ends this long after login, whatever happens (8 h)."""
    session_idle_minutes: int = 30
    """An officer's session ends after this long without a request."""
    login_max_failures: int = 5
    """Failed logins of one account (or from one address) before the back-off starts."""
    login_backoff_seconds: int = 2
    """First wait after ``login_max_failures`` failures; doubles with every further one."""
    login_backoff_max_seconds: int = 900
    """Longest wait; failures older than this are forgotten."""
    trusted_proxies: int = 0
    """Reverse proxies in front that append to ``X-Forwarded-For`` (0: use the peer
    address).  Set it to 1 behind one nginx, so throttling and audit see the client."""
    threads: int = 8
    """gunicorn threads per worker: requests of slow clients wait in threads, not workers."""
    header_timeout: int = 10
    """Seconds a client has to send the request line and headers (else 408)."""
    body_timeout: int = 60
    """Seconds a client has to send the whole request body once headers are in (else 408)."""
    keepalive: int = 5
    """Seconds an idle kept-alive connection stays open."""
    worker_timeout: int = 120
    """gunicorn ``--timeout``: a worker whose main loop is silent this long is restarted."""
    graceful_timeout: int = 30
    """Seconds a worker has to finish its requests when it is recycled or stopped."""
    max_requests: int = 1000
    """Recycle a worker after this many requests (0: never) …"""
    max_requests_jitter: int = 100
    """… plus a random 0..jitter, so workers do not restart all at once."""
    worker_max_rss_mb: int = 1024
    """Recycle a worker after a request that left it above this resident size (0: never)."""
    worker_max_rss_growth_mb: int = 16
    """Recycle a worker that a large request left more than this much (MiB) above its size
    when the request began, even after garbage collection and ``malloc_trim`` (0: never):
    Python's allocator keeps fragmented memory that only a new process gives back."""

    party: str | None = None
    """The Party this node serves (``KZ`` or ``BY``): documents addressed to the other
    Party's authorities are delivered to the registered peer node.  ``None`` (default):
    single-node mode, both Parties on this node, nothing is delivered."""
    peer_bind: str | None = None
    """``host:port`` of the mutually authenticated TLS listener for the peer node
    (``migdocs serve`` starts it, or ``migdocs peer listen``); ``None``: no peer listener."""
    delivery_workers: int = 1
    """Delivery worker processes ``migdocs serve`` starts on a node of a Party (0: none —
    run ``migdocs worker`` separately, one or many)."""
    node_cert: Path | None = None
    """PEM certificate of this node: server certificate of the peer listener and client
    certificate of deliveries (the peer registers it with ``migdocs peer add``)."""
    node_key: Path | None = None
    """PEM private key (unencrypted, 0600) of ``node_cert``."""
    delivery_backoff_seconds: int = 5
    """First retry delay of a failed delivery; doubles per attempt (± 25 % jitter)."""
    delivery_max_backoff_seconds: int = 600
    """Longest delay between two delivery attempts."""
    delivery_give_up_seconds: int = 3 * 24 * 3600
    """After this long without a receipt a delivery is marked ``failed``."""
    delivery_lease_seconds: int = 120
    """A claimed delivery is retried by another worker if its worker died this long ago."""
    testing: bool = False

    def resolved(self) -> Settings:
        """Fill the defaults that depend on other settings."""
        database = self.database_url or database_url({"MIGDOCS_INSTANCE": str(self.instance_dir)})
        storage = self.storage_dir or self.instance_dir / "documents"
        secret = self.secret_key or _persistent_secret(self.instance_dir)
        if self.signature_level not in (None, *SIGNATURE_LEVELS):
            raise ConfigError(
                f"setting signature_level: {self.signature_level!r} is not one of "
                f"{', '.join(SIGNATURE_LEVELS)}"
            )
        if self.party not in (None, "KZ", "BY"):
            raise ConfigError(f"setting party: {self.party!r} is not KZ or BY (or unset)")
        if self.storage_backend not in ("files", "database"):
            raise ConfigError(
                f"setting storage_backend: {self.storage_backend!r} is not files or database"
            )
        if self.storage_backend == "database" and not database.startswith("postgresql"):
            raise ConfigError(
                "setting storage_backend: database needs PostgreSQL (database_url "
                "postgresql+psycopg://…); the embedded SQLite keeps files on disk"
            )
        return dataclasses.replace(
            self, database_url=database, storage_dir=storage, secret_key=secret
        )

    def limits(self) -> Limits:
        """The budgets of one document (see :mod:`service.pipeline.limits`)."""
        return Limits(
            max_xml_bytes=self.max_xml_bytes,
            max_persons=self.max_persons,
            max_pages=self.max_pages,
            max_image_pixels=self.max_image_pixels,
            max_total_image_pixels=self.max_total_image_pixels,
            max_render_seconds=self.max_render_seconds,
        )


def _persistent_secret(directory: Path) -> str:
    path = directory / "secret_key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


_FIELDS = {f.name: f for f in fields(Settings)}


def _coerce(name: str, value: Any, source: str) -> Any:
    hint = typing.get_type_hints(Settings)[name]
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    target = next((a for a in args if a is not type(None)), hint) if optional else hint
    if optional and (value is None or value == ""):
        return None
    if typing.get_origin(target) is dict:
        return _retention_map(name, value, source)
    try:
        if target is bool:
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(value)
            return lowered in ("1", "true", "yes", "on")
        if target is int:
            return int(value)
        if target is float:
            return float(value)
        if target is Path:
            return Path(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting {name} from {source}: {value!r} is not a valid {target.__name__}"
        ) from None


def _retention_map(name: str, value: Any, source: str) -> dict[str, int]:
    """``{"type": days}`` from a TOML table or ``type=days,…`` text."""
    if isinstance(value, str):
        pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ConfigError(f"setting {name} from {source}: write type=days,type=days")
        value = {key.strip(): days.strip() for key, days in pairs}
    if not isinstance(value, Mapping):
        raise ConfigError(f"setting {name} from {source}: expected a table of type = days")
    result: dict[str, int] = {}
    for key, days in value.items():
        try:
            result[str(key)] = int(days)
        except (TypeError, ValueError):
            raise ConfigError(
                f"setting {name} from {source}: {key} = {days!r} is not a number of days"
            ) from None
        if result[str(key)] < 1:
            raise ConfigError(f"setting {name} from {source}: {key} must keep at least 1 day")
    result.setdefault("default", 1825)
    return result


def _apply(values: dict[str, Any], layer: Mapping[str, Any], source: str) -> None:
    for key, value in layer.items():
        name = key.lower()
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {key!r} in {source}; known: {', '.join(_FIELDS)}")
        values[name] = _coerce(name, value, source)


def load_settings(
    test_config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build the settings from every layer; raise :class:`ConfigError` on unknown keys."""
    return Settings(**_layered(test_config, environ)).resolved()


def load_limits(environ: Mapping[str, str] | None = None) -> Limits:
    """The document limits of the configuration, without touching the instance directory
    (``migdocs validate`` needs no database, secret or storage)."""
    return Settings(**_layered(None, environ)).limits()


def _layered(
    test_config: Mapping[str, Any] | None, environ: Mapping[str, str] | None
) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = env.get(f"{ENV_PREFIX}CONFIG")
    if config_file:
        try:
            data = tomllib.loads(Path(config_file).read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read configuration file {config_file}: {exc}") from None
        _apply(values, data, config_file)
    env_layer = {
        key[len(ENV_PREFIX) :]: value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :] not in NOT_SETTINGS
    }
    if "DATABASE_URL" in env:
        env_layer["DATABASE_URL"] = env["DATABASE_URL"]
    if "INSTANCE" in env_layer:
        env_layer["INSTANCE_DIR"] = env_layer.pop("INSTANCE")
    _apply(values, env_layer, "the environment")
    if test_config:
        _apply(values, test_config, "the test configuration")
    return values
