"""The Agreement's scope on personal data, checked after the schema (422 with the XPath).

* Art. 5: information may be transferred only about **citizens of the Parties** — every
  person carries ``citizenship`` KAZ or BLR.  A person admitted to (or restored in) the
  citizenship of a Party (category 3) may carry the citizenship held before as
  ``previousCitizenship``; no other category may.
* Every country code is a real ISO 3166-1 alpha-3 code (or an ICAO 9303 code of a travel
  document): an unknown code would print as three raw letters in a signed letter.
"""

from __future__ import annotations

from lxml import etree

from service.errors import Violation
from service.pipeline.countries import COUNTRIES_RU, PARTY_CITIZENSHIPS
from service.pipeline.xmlinput import NAMESPACE, element_path

_COUNTRY_ELEMENTS = ("citizenship", "previousCitizenship", "country", "thirdPartyCountry")
_CITIZENSHIP_CATEGORY = "citizenship"


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _violation(elem: etree._Element, rule: str) -> Violation:
    return Violation(elem.sourceline, element_path(elem), rule)


def _text(elem: etree._Element | None) -> str:
    return "".join(elem.itertext()).strip() if elem is not None else ""


def scope_violations(root: etree._Element) -> list[Violation]:
    """Every violation of Art. 5 and of the country-code lists in a schema-valid document."""
    problems: list[Violation] = []
    for elem in root.iter(*(_q(n) for n in _COUNTRY_ELEMENTS)):
        code = _text(elem)
        if code not in COUNTRIES_RU:
            problems.append(_violation(elem, f"{code!r} is not an ISO 3166-1 alpha-3 country code"))
    for person in root.iter(_q("person")):
        citizenship = person.find(_q("citizenship"))
        if citizenship is None:
            problems.append(
                _violation(
                    person,
                    "citizenship is required: under Art. 5 information may be transferred "
                    "only about citizens of the Parties (KAZ or BLR)",
                )
            )
        elif _text(citizenship) not in PARTY_CITIZENSHIPS:
            name = COUNTRIES_RU.get(_text(citizenship), _text(citizenship))
            problems.append(
                _violation(
                    citizenship,
                    f"a citizen of {_text(citizenship)} ({name}) is outside the Agreement: "
                    "under Art. 5 information may be transferred only about citizens of "
                    "the Parties (KAZ or BLR)",
                )
            )
        previous = person.find(_q("previousCitizenship"))
        if previous is not None and _text(person.find(_q("category"))) != _CITIZENSHIP_CATEGORY:
            problems.append(
                _violation(
                    previous,
                    "previousCitizenship is allowed only for category 'citizenship' "
                    "(Art. 5, 3: admitted to or restored in the citizenship of a Party)",
                )
            )
    return problems
