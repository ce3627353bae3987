# mypy: disallow-untyped-calls=False
"""Document-level checks: signatures, PDF/A, source XML, form version, known to the service."""

from __future__ import annotations

from collections.abc import Sequence

from .checks import _fmt
from .facts import _Xmp
from .report import (
    FAILED,
    PASSED,
    WARNING,
    Check,
    KnownDocument,
    SignatureReport,
    SourceXmlInfo,
)


def document_checks(
    signatures: Sequence[SignatureReport],
    xmp: _Xmp,
    source: SourceXmlInfo,
    schema_error: str | None,
    xmp_type: str | None,
    form_version: str | None,
    known: KnownDocument | None,
) -> tuple[Check, ...]:
    checks: list[Check] = []
    n = len(signatures)
    checks.append(
        Check("signatures", PASSED, f"Подписей в документе: {n}")
        if n
        else Check("signatures", WARNING, "В документе нет электронной подписи")
    )
    if xmp.pdfa_part:
        ident = f"PDF/A-{xmp.pdfa_part}{(xmp.pdfa_conformance or '').upper()}"
        checks.append(
            Check(
                "pdfa", PASSED if xmp.pdfa_part == "3" else WARNING, f"Документ заявлен как {ident}"
            )
        )
    else:
        checks.append(Check("pdfa", WARNING, "Идентификация PDF/A в метаданных XMP отсутствует"))

    if source.sample:
        checks.append(
            Check(
                "source_xml",
                PASSED,
                f"Образец бланка (ОБРАЗЕЦ) версии {source.form_version or '?'}: вложенный XML "
                "содержит заполнители вместо данных",
            )
        )
        checks.append(
            Check(
                "source_xml_schema",
                WARNING,
                "Образец бланка не проверяется по схеме: значения в квадратных скобках — "
                "заполнители",
            )
        )
    elif not source.present:
        checks.append(
            Check("source_xml", WARNING, "Исходный XML-документ (source.xml) не вложен в PDF")
        )
    else:
        checks.append(
            Check(
                "source_xml",
                PASSED,
                "Исходный XML-документ вложен как связанный файл source.xml (/Source)",
            )
        )
        if source.schema_valid is None and schema_error is None:
            checks.append(Check("source_xml_schema", WARNING, "Соответствие схеме не проверялось"))
        elif source.schema_valid:
            checks.append(Check("source_xml_schema", PASSED, "Исходный XML соответствует схеме"))
        else:
            checks.append(
                Check(
                    "source_xml_schema",
                    FAILED,
                    "Исходный XML не соответствует схеме",
                    (schema_error or "")[:500] or None,
                )
            )
        problems: list[str] = []
        reg = xmp.identifier
        if not reg or reg.startswith("urn:"):
            problems.append("регистрационный номер в метаданных (dc:identifier) отсутствует")
        elif source.sender and not reg.startswith(f"{source.sender}-"):
            problems.append(
                f"регистрационный номер {reg} не принадлежит отправителю {source.sender}"
            )
        if source.document_id and xmp.types and f"urn:uuid:{source.document_id}" not in xmp.types:
            problems.append("идентификатор документа в XML не совпадает с метаданными")
        if xmp_type and source.document_type and xmp_type != source.document_type:
            problems.append(
                f"вид документа в XML ({source.document_type}) не совпадает с метаданными "
                f"({xmp_type})"
            )
        if known is not None and reg and known.registration_number != reg:
            problems.append(
                f"сервис зарегистрировал документ под номером {known.registration_number}"
            )
        if problems:
            checks.append(Check("source_xml_consistency", FAILED, "; ".join(problems).capitalize()))
        else:
            checks.append(
                Check(
                    "source_xml_consistency",
                    PASSED,
                    f"XML согласован с документом: рег. № {reg}, отправитель {source.sender}, "
                    f"вид «{source.document_type}»",
                )
            )
    checks.append(
        Check("form_version", PASSED, f"Документ оформлен по бланку версии {form_version}")
        if form_version
        else Check("form_version", WARNING, "Версия бланка в метаданных не указана")
    )
    checks.append(_known_check(known))
    return tuple(checks)


def _known_check(known: KnownDocument | None) -> Check:
    if known is None:
        return Check(
            "known_document",
            WARNING,
            "Сервису этот файл неизвестен: он не выпускал документ с такой хеш-суммой "
            "(документ мог быть изменён или выпущен другой системой)",
        )
    if known.kind == "verification-report":
        return Check(
            "known_document",
            PASSED,
            "Отчёт о проверке, выпущенный этим сервисом: заверен печатью сервиса",
        )
    if known.kind == "signatory-list":
        return Check(
            "known_document",
            PASSED,
            f"Перечень уполномоченных лиц, выпущенный этим сервисом ({known.registration_number}"
            f", {_fmt(known.signed_at)}); файл совпадает с хранимым байт в байт",
        )
    if known.destroyed_at is not None:
        return Check(
            "known_document",
            PASSED,
            f"Документ выпущен сервисом (рег. № {known.registration_number}); хранимая "
            f"копия уничтожена {known.destroyed_at:%Y-%m-%d}",
        )
    return Check(
        "known_document",
        PASSED,
        f"Документ выпущен этим сервисом: рег. № {known.registration_number}, подписан "
        f"{_fmt(known.signed_at)}; файл совпадает с хранимым байт в байт",
    )
