"""Certificate names in Russian, as a person reads them in a report or on a page.

asn1crypto's ``human_friendly`` says «Common Name: …, Organization: …»; officers read
«Владелец (CN): …; Организация: …».  Attributes are printed most specific first, as
``human_friendly`` orders them; an attribute without a Russian label keeps its OID name.
"""

from __future__ import annotations

from asn1crypto import x509

from .clip import MAX_NAME_CHARS, clip

LABELS: dict[str, str] = {
    "common_name": "Имя (CN)",
    "surname": "Фамилия",
    "given_name": "Имя",
    "title": "Должность",
    "organization_name": "Организация",
    "organizational_unit_name": "Подразделение",
    "organization_identifier": "Идентификатор организации",
    "country_name": "Страна",
    "state_or_province_name": "Область",
    "locality_name": "Населённый пункт",
    "street_address": "Адрес",
    "postal_code": "Почтовый индекс",
    "serial_number": "Серийный номер субъекта",
    "email_address": "Электронная почта",
    "pseudonym": "Псевдоним",
    "domain_component": "Компонент домена",
}

COUNTRIES: dict[str, str] = {"KZ": "Казахстан", "BY": "Беларусь", "RU": "Россия"}


def russian_name(name: x509.Name) -> str:
    """«Имя (CN): Ахметов Ержан Серикович; Организация: МВД РК; Страна: Казахстан (KZ)»."""
    parts: list[str] = []
    for rdn in reversed(list(name.chosen)):
        for attribute in rdn:
            key = attribute["type"].native
            value = attribute["value"].native
            text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
            if key == "country_name" and text in COUNTRIES:
                text = f"{COUNTRIES[text]} ({text})"
            parts.append(f"{LABELS.get(key, key)}: {clip(text)}")
    return clip("; ".join(parts), MAX_NAME_CHARS)
