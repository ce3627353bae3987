"""Refusals of an XML document in Russian, for the pages and reports people read.

The API answers upstream systems in English (stable, documented messages); a person who
verifies a PDF on the site or reads its verification report gets the same problems in
Russian.  Messages the rules below do not know keep their English text, marked as such.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from service.errors import InputError, LimitExceeded, MalformedXml, UnsafeXml, Violation

_HINTS: dict[str, str] = {
    "must be a UUID such as": "должно быть UUID, например",
    "must be Latin letters A–Z, words joined by a space, hyphen or apostrophe": (
        "должно состоять из латинских букв A–Z; слова разделяются пробелом, дефисом или апострофом"
    ),
    "must be Cyrillic letters, words joined by a space, hyphen or apostrophe": (
        "должно состоять из букв кириллицы; слова разделяются пробелом, дефисом или апострофом"
    ),
    "must not be blank": "не должно быть пустым",
    "must be an ISO 3166-1 alpha-3 code in capitals, e.g.": (
        "должно быть трёхбуквенным кодом страны ISO 3166-1 прописными буквами, например"
    ),
    "must be a signatory identifier such as": "должно быть идентификатором подписанта, например",
    "must be a plain file name of Latin letters, digits, '.', '_' or '-'": (
        "должно быть именем файла из латинских букв, цифр, «.», «_» или «-»"
    ),
    "must be a date written YYYY-MM-DD": "должно быть датой в виде ГГГГ-ММ-ДД",
    "has the wrong form": "имеет неверный формат",
}

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _tags(text: str) -> str:
    return text.replace("> or <", "> или <")


_RULES: tuple[_Rule, ...] = (
    (
        re.compile(r"^element <([\w.-]+)> is not allowed here(?:; expected (.+))?$"),
        lambda m: (
            f"элемент <{m[1]}> здесь не допускается"
            + (f"; ожидается {_tags(m[2])}" if m[2] else "")
        ),
    ),
    (
        re.compile(r"^element <([\w.-]+)> is incomplete(?:; expected (.+))?$"),
        lambda m: (
            f"элемент <{m[1]}> заполнен не полностью"
            + (f"; не хватает {_tags(m[2])}" if m[2] else "")
        ),
    ),
    (re.compile(r"^value is blank; it must contain text$"), lambda m: "значение пустое"),
    (
        re.compile(r"^(.+) is not one of: (.+)$"),
        lambda m: f"{m[1]} не входит в перечень допустимых значений: {m[2]}",
    ),
    (re.compile(r"^(.+) is listed more than once$"), lambda m: f"{m[1]} указано более одного раза"),
    (
        re.compile(r"^'([^']+)' attribute not allowed for element$"),
        lambda m: f"атрибут «{m[1]}» у этого элемента не допускается",
    ),
    (
        re.compile(r"^root element \{[^}]*\}(\S+) is not a document type; expected one of (.+)$"),
        lambda m: (
            f"корневой элемент <{m[1]}> (в этом пространстве имён) не является видом "
            "документа; ожидается один из: " + re.sub(r"\{[^}]*\}", "", m[2])
        ),
    ),
    (
        re.compile(r"^Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)"),
        lambda m: f"открывающий тег <{m[1]}> (строка {m[2]}) закрыт тегом </{m[3]}>",
    ),
    (
        re.compile(r"^Invalid bytes in character encoding"),
        lambda m: "байты не соответствуют кодировке документа (UTF-8, если не объявлена иная)",
    ),
    (re.compile(r"^day is out of range for month$"), lambda m: "такой даты нет в календаре"),
    (
        re.compile(r"^remove the <!DOCTYPE …> declaration and any entities$"),
        lambda m: "удалите объявление <!DOCTYPE …> и все сущности",
    ),
)


def _hint(message: str) -> str | None:
    found = message.split("; found ", 1)
    head, foreign = found[0], (found[1] if len(found) > 1 else None)
    for english, russian in _HINTS.items():
        if english in head:
            text = head.replace(english, russian)
            return text + (f"; недопустимые символы: {foreign}" if foreign else "")
    return None


def russian_message(message: str) -> str:
    """One violation message in Russian (unknown ones: the English text, marked)."""
    for pattern, build in _RULES:
        match = pattern.match(message)
        if match:
            return build(match)
    hinted = _hint(message)
    if hinted is not None:
        return hinted
    return f"{message} (сообщение проверки схемы на английском языке)"


def russian_violation(violation: Violation) -> str:
    where = f"строка {violation.line}" if violation.line is not None else "строка ?"
    return f"{where}, {violation.path}: {russian_message(violation.message)}"


def russian_refusal(exc: InputError) -> str:
    """The whole refusal: a Russian headline and one line per problem."""
    if isinstance(exc, MalformedXml):
        headline = "XML-документ составлен с синтаксическими ошибками"
    elif isinstance(exc, UnsafeXml):
        headline = "XML-документ содержит конструкции, которые не обрабатываются (DTD, сущности)"
    elif isinstance(exc, LimitExceeded):
        headline = "XML-документ превышает установленные ограничения"
    elif "schema" in exc.message:
        headline = f"XML-документ не соответствует схеме (нарушений: {len(exc.violations)})"
    else:
        headline = "XML-документ не может быть принят"
    return "\n".join([headline, *(russian_violation(v) for v in exc.violations)])
