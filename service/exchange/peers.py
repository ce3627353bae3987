"""The registered peer node: ``migdocs peer add|list|remove``.

A peer is the other Party's node: its URL, its Party's trust root(s) (which verify its
TLS certificates and the signatures of its receipts) and the certificate its node
presents (the only client certificate the peer endpoint accepts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import NotFound
from service.exchange.errors import PeerInvalid
from service.store.exchange_tables import Peer

PARTIES = ("KZ", "BY")


def other_party(party: str) -> str:
    return "BY" if party == "KZ" else "KZ"


def load_pem_certificates(pem: str, what: str) -> list[x509.Certificate]:
    """Every certificate of a PEM text; :class:`PeerInvalid` naming ``what`` if none."""
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise PeerInvalid(f"{what}: not a PEM certificate (or a damaged one)") from None
    if not certs:
        raise PeerInvalid(f"{what}: no certificate found")
    return certs


def certificate_sha256(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class PeerInfo:
    party: str
    url: str
    node_cert_sha256: str
    node_subject: str
    trust_roots: tuple[str, ...]
    """Subjects of the trust roots."""
    added_at: datetime


def info(row: Peer) -> PeerInfo:
    node = load_pem_certificates(row.node_cert_pem, "node certificate")[0]
    roots = load_pem_certificates(row.trust_roots_pem, "trust roots")
    return PeerInfo(
        party=row.party,
        url=row.url,
        node_cert_sha256=row.node_cert_sha256,
        node_subject=node.subject.rfc4514_string(),
        trust_roots=tuple(r.subject.rfc4514_string() for r in roots),
        added_at=row.added_at,
    )


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise PeerInvalid(f"peer URL {url!r}: use https://host[:port] (the peer listener)")
    return url.rstrip("/")


def add_peer(
    session: Session, party: str, url: str, trust_roots_pem: str, node_cert_pem: str
) -> Peer:
    """Register (or replace) the peer node of ``party``.

    The node certificate must chain to one of the trust roots by its issuer name, so a
    typo in either file is caught now and not at the first delivery.
    """
    if party not in PARTIES:
        raise PeerInvalid(f"party {party!r}: use KZ or BY")
    roots = load_pem_certificates(trust_roots_pem, "trust roots")
    node = load_pem_certificates(node_cert_pem, "node certificate")
    if len(node) != 1:
        raise PeerInvalid("node certificate: give exactly one certificate")
    if not any(node[0].issuer == root.subject for root in roots):
        raise PeerInvalid(
            f"node certificate: issued by {node[0].issuer.rfc4514_string()}, which is not "
            "among the trust roots given"
        )
    digest = certificate_sha256(node[0].public_bytes(Encoding.DER))
    row = session.get(Peer, party) or Peer(party=party)
    row.url = _check_url(url)
    row.trust_roots_pem = "".join(r.public_bytes(Encoding.PEM).decode() for r in roots)
    row.node_cert_pem = node[0].public_bytes(Encoding.PEM).decode()
    row.node_cert_sha256 = digest
    row.added_at = datetime.now(UTC)
    session.add(row)
    session.flush()
    return row


def remove_peer(session: Session, party: str) -> Peer:
    row = session.get(Peer, party)
    if row is None:
        raise NotFound(f"no peer registered for {party}")
    session.delete(row)
    return row


def list_peers(session: Session) -> Sequence[Peer]:
    return session.execute(select(Peer).order_by(Peer.party)).scalars().all()


def peer_for(session: Session, party: str) -> Peer | None:
    return session.get(Peer, party)


def peer_by_certificate(session: Session, der: bytes) -> Peer | None:
    """The peer whose node certificate is exactly ``der``."""
    return session.execute(
        select(Peer).where(Peer.node_cert_sha256 == certificate_sha256(der))
    ).scalar_one_or_none()
