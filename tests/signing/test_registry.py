"""Registry semantics: append-only versions, windows, precise refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from signing.errors import RegistryError, SignatoryNotAuthorised, SignatoryUnknown
from signing.registry import KeyReference, NewSignatory, Registry

D = lambda y, m=1, d=1: datetime(y, m, d, tzinfo=UTC)  # noqa: E731


def _new(cert: bytes, **kw: Any) -> NewSignatory:
    base: dict[str, Any] = dict(
        signatory_id="s1",
        authority_code="KZ-MVD",
        full_name_ru="Иванов И. И.",
        full_name_latin="Ivanov I.",
        position_ru="Начальник",
        certificate_der=cert,
        key=KeyReference("memory", "k"),
        document_types=("request",),
        valid_from=D(2024),
    )
    base.update(kw)
    return NewSignatory(**base)


@pytest.fixture()
def reg(session_factory: Any) -> Any:
    with session_factory() as session:
        r = Registry(session)
        r.ensure_default_document_types()
        r.ensure_default_authorities(D(2019, 9, 25))
        yield r


@pytest.fixture()
def cert(pki: Any) -> bytes:
    return bytes(pki.get_cert("signer-rsa2048").dump())


def test_history_answers_who_could_sign_when(reg: Registry, cert: bytes) -> None:
    reg.add_signatory(_new(cert))
    reg.add_signatory(_new(cert, document_types=("request", "response"), valid_from=D(2025)))
    reg.revoke_signatory("s1", D(2026), "увольнение")
    assert [v.version for v in reg.signatory_versions("s1")] == [1, 2, 3]
    assert reg.authorised_signatory("s1", "KZ-MVD", "request", D(2024, 6)).version == 1
    with pytest.raises(SignatoryNotAuthorised) as e:
        reg.authorised_signatory("s1", "KZ-MVD", "response", D(2024, 6))
    assert e.value.reason == "document-type"
    assert reg.authorised_signatory("s1", "KZ-MVD", "response", D(2025, 6)).version == 2
    with pytest.raises(SignatoryNotAuthorised) as e:
        reg.authorised_signatory("s1", "KZ-MVD", "request", D(2026, 6))
    assert e.value.reason == "revoked"
    with pytest.raises(SignatoryNotAuthorised) as e:
        reg.authorised_signatory("s1", "KZ-MVD", "request", D(2023))
    assert e.value.reason == "outside-validity-window"
    windows = reg.authorised_windows("s1")
    assert [(w.window.valid_from, w.window.valid_to) for w in windows] == [
        (D(2024), D(2025)),
        (D(2025), D(2026)),
    ]


def test_unknown_and_wrong_authority(reg: Registry, cert: bytes) -> None:
    reg.add_signatory(_new(cert))
    with pytest.raises(SignatoryUnknown):
        reg.authorised_signatory("nobody", "KZ-MVD", "request", D(2025))
    with pytest.raises(SignatoryNotAuthorised) as e:
        reg.authorised_signatory("s1", "BY-GPK", "request", D(2025))
    assert e.value.reason == "wrong-authority"


def test_authority_versions_never_overwritten(reg: Registry) -> None:
    reg.add_authority("KZ-MVD", "KZ", "Новое имя", "МВД", D(2030))
    assert reg.authority_at("KZ-MVD", D(2025)).name_ru.startswith("Министерство")  # type: ignore[union-attr]
    assert reg.authority_at("KZ-MVD", D(2031)).name_ru == "Новое имя"  # type: ignore[union-attr]
    assert [a.version for a in reg.authority_versions("KZ-MVD")] == [1, 2]


def test_authorities_read_together_are_the_versions_read_one_by_one(
    reg: Registry, session_factory: Any
) -> None:
    reg.add_authority("KZ-MVD", "KZ", "Новое имя", "МВД", D(2030))
    reg.session.commit()
    codes = ("KZ-MVD", "BY-MVD", "XX-NONE")
    one_by_one = {code: reg.authority_versions(code) for code in codes}
    assert [a.version for a in one_by_one["KZ-MVD"]] == [1, 2]
    assert one_by_one["XX-NONE"] == []
    statements: list[str] = []
    remember = _remember(statements)
    with session_factory() as session:
        bind = session.get_bind()
        event.listen(bind, "before_cursor_execute", remember)
        try:
            together = Registry(session)
            together.read_authorities(codes)
            assert len(statements) == 1
            assert {code: together.authority_versions(code) for code in codes} == one_by_one
            assert len(statements) == 1  # all three answered from the one query
        finally:
            event.remove(bind, "before_cursor_execute", remember)


def _remember(statements: list[str]) -> Any:
    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    return before


def test_dissolved_authority_refuses(reg: Registry, cert: bytes) -> None:
    reg.add_signatory(_new(cert))
    reg.add_authority("KZ-MVD", "KZ", "x", "x", D(2027), status="dissolved")
    with pytest.raises(SignatoryNotAuthorised) as e:
        reg.authorised_signatory("s1", "KZ-MVD", "request", D(2028))
    assert e.value.reason == "authority-inactive"


def test_input_validation(reg: Registry, cert: bytes) -> None:
    with pytest.raises(RegistryError, match="unknown authority"):
        reg.add_signatory(_new(cert, authority_code="XX"))
    with pytest.raises(RegistryError, match="not a valid DER"):
        reg.add_signatory(_new(b"garbage"))
    with pytest.raises(RegistryError, match="timezone-aware"):
        reg.add_signatory(_new(cert, valid_from=datetime(2024, 1, 1)))
    with pytest.raises(RegistryError, match="after valid_from"):
        reg.add_signatory(_new(cert, valid_to=D(2020)))
