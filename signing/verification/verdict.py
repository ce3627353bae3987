# mypy: disallow-untyped-calls=False
"""ETSI EN 319 102-1 indications: precedence, summaries and the worst of several."""

from __future__ import annotations

from .report import Indication

_FAILURE_TEXT = {
    "HASH_FAILURE": "подписанные данные изменены после подписания",
    "SIG_CRYPTO_FAILURE": "значение подписи не соответствует ключу сертификата",
    "REVOKED": "сертификат подписанта отозван",
    "FORMAT_FAILURE": "документ изменён после подписания или подпись имеет неверный формат",
    "NO_CERTIFICATE_CHAIN_FOUND": "сертификат подписанта выдан не доверенным удостоверяющим "
    "центром",
    "OUT_OF_BOUNDS_NO_POE": "сертификат не действовал на момент проверки, а доказательства "
    "подписания в срок его действия (метки времени) нет",
    "OUT_OF_BOUNDS_NOT_REVOKED": "сертификат не действовал на момент проверки",
    "SIG_CONSTRAINTS_FAILURE": "подписант не был уполномоченным лицом на момент подписания",
    "REVOKED_NO_POE": "сертификат отозван, а доказательства подписания до отзыва нет",
    "CHAIN_CONSTRAINTS_FAILURE": "цепочка сертификатов не удовлетворяет требованиям",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "цепочку сертификатов проверить не удалось",
}


def _summary(indication: Indication, sub: str | None) -> str:
    if indication is Indication.TOTAL_PASSED:
        return "Подпись действительна"
    reason = _FAILURE_TEXT.get(sub or "", sub or "причина не установлена")
    if indication is Indication.TOTAL_FAILED:
        return f"Подпись недействительна: {reason}"
    return f"Действительность подписи не подтверждена: {reason}"


_SEVERITY = {Indication.TOTAL_FAILED: 2, Indication.INDETERMINATE: 1, Indication.TOTAL_PASSED: 0}
