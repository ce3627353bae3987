"""Who sends and who receives a document, as the letterhead prints them (issue 12, item 1).

The names and requisites (state-language name, postal address, telephone, e-mail) are the
versions of the signatory registry in force when the document is registered: the domain
reads them (:func:`service.domain.documents` resolves :class:`Parties`) and hands them to
the renderer, which never reads the database.  A render without a registry at hand
(``migdocs render``, benches) prints the registry's seed data — names only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from signing.registry_records import (
    ACTIVE,
    DEFAULT_AUTHORITIES,
    STATE_LANGUAGE_NAMES,
    Authority,
    Requisites,
    Window,
)

_SEED_FROM = datetime(2019, 9, 25, tzinfo=UTC)


@dataclass(frozen=True)
class Parties:
    """The registry versions of the sending and the receiving authority."""

    sender: Authority
    recipient: Authority


def seed_authority(code: str) -> Authority:
    """Version 1 of an Art. 2 authority as a fresh registry seeds it (no address)."""
    for seed_code, country, name, short in DEFAULT_AUTHORITIES:
        if seed_code == code:
            return Authority(
                code=code,
                version=1,
                status=ACTIVE,
                country=country,
                name_ru=name,
                short_name_ru=short,
                window=Window(_SEED_FROM, None),
                recorded_at=_SEED_FROM,
                requisites=Requisites(STATE_LANGUAGE_NAMES.get(code)),
            )
    raise KeyError(code)


def seed_parties(sender: str, recipient: str) -> Parties:
    return Parties(seed_authority(sender), seed_authority(recipient))


def contact_line(authority: Authority) -> str:
    """«тел. +7 7172 72-10-00, e-mail: mvd@…» (what is known of it), or empty."""
    r = authority.requisites
    parts = [f"тел. {r.phone}" if r.phone else "", f"e-mail: {r.email}" if r.email else ""]
    return ", ".join(p for p in parts if p)
