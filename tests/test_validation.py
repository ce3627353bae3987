"""Validation of posted XML: the sample documents, the invalid samples and the hostile inputs.

Valid samples (``samples/*.xml``) must pass :func:`service.pipeline.stages.parse_document`.  Each
invalid sample ``samples/invalid/NAME.xml`` is paired with ``NAME.expected.json``::

    {"code": "<error code>",
     "violations": [{"line": <int|null>, "path": "<XPath>", "contains": "<substring>"}, ...]}

and must raise the error with that code and *exactly* that set of (line, path) pairs, each
message containing its substring.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from service.errors import (
    InconsistentDocument,
    InputError,
    InputTooLarge,
    MalformedXml,
    SchemaViolation,
    UnsafeXml,
)
from service.paths import SAMPLES_DIR, SCHEMA_DIR
from service.pipeline import vocabulary
from service.pipeline.document import RefusalNotice, Request, Response
from service.pipeline.stages import parse_document
from service.pipeline.xmlinput import MAX_DEPTH, ROOT_TO_TYPE

INVALID_DIR = SAMPLES_DIR / "invalid"
VALID_SAMPLES = sorted(SAMPLES_DIR.glob("*.xml"))
INVALID_SAMPLES = sorted(INVALID_DIR.glob("*.xml"))
XS = "{http://www.w3.org/2001/XMLSchema}"


def _parse_error(raw: bytes, **kwargs: int) -> InputError:
    with pytest.raises(InputError) as info:
        parse_document(raw, **kwargs)
    return info.value


def _messages(error: InputError) -> str:
    return "\n".join([str(error), *(v.message for v in error.violations)])


# ----- valid samples ----------------------------------------------------------------------


def test_there_are_samples_of_every_document_type() -> None:
    roots = {etree.parse(str(p)).getroot().tag.split("}")[1] for p in VALID_SAMPLES}
    assert roots == {
        "request",
        "response",
        "refusalNotice",
        "additionalInformationRequest",
        "delayNotice",
        "postponementNotice",
        "authenticityConfirmationRequest",
        "authenticityConfirmation",
        "unsolicitedInformation",
        "confidentialityNotice",
        "thirdPartyConsentRequest",
        "thirdPartyConsent",
        "additionalInformation",
        "conditionsDecision",
        "confidentialityDecision",
        "requestWithdrawal",
    }
    assert roots == set(ROOT_TO_TYPE)


@pytest.mark.parametrize("path", VALID_SAMPLES, ids=lambda p: p.name)
def test_valid_sample_parses(path: Path) -> None:
    document = parse_document(path.read_bytes())
    assert document.header.document_date.isoformat() in path.read_text(encoding="utf-8")


def test_valid_samples_have_distinct_uuid4_document_ids() -> None:
    ids = [parse_document(p.read_bytes()).header.document_id for p in VALID_SAMPLES]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)


def _load(name: str) -> object:
    return parse_document((SAMPLES_DIR / name).read_bytes())


def test_request_multipage_content() -> None:
    document = _load("request-multipage.xml")
    assert isinstance(document, Request)
    assert (document.header.sender, document.header.recipient) == ("BY-GPK", "KZ-MTSZN")
    assert document.topic == "legal-status"
    assert len(document.persons) == 15
    assert [p.number for p in document.persons] == list(range(1, 16))
    assert {p.category for p in document.persons} == set(vocabulary.CATEGORIES)
    first = document.persons[0]
    assert first.name_cyrillic.surname == "Муханбеткалиева-Шевчук-Ахметжанова"
    assert str(first.name_cyrillic) == "Муханбеткалиева-Шевчук-Ахметжанова Әйгерім Қайратқызы"
    assert first.name_latin.surname == "Mukhanbetkaliyeva-Shevchuk-Akhmetzhanova"
    assert first.name_latin.given_name == "Aigerim"
    surnames = [p.name_cyrillic.surname for p in document.persons]
    assert "Вераб’ёў" in surnames  # typographic apostrophe and Belarusian Ў
    assert "О'Коннор-Жумабаева" in surnames  # ASCII apostrophe
    assert "D’Alamber-Sagynbayeva" in [p.name_latin.surname for p in document.persons]
    banned = document.persons[7]
    assert banned.name_cyrillic.surname == "Шаһмарданов"
    assert [r.kind for r in banned.travel_restrictions] == ["entry-ban", "exit-restriction"]
    assert len(banned.criminal_liability) == 1
    assert banned.name_cyrillic.patronymic == "Іргебайұлы"
    # Persons without a patronymic (foreign passports) keep it empty rather than "".
    assert document.persons[5].name_cyrillic.patronymic is None
    assert document.requested_data[0] == "names"
    assert len(document.justification.split("\n\n")) == 4


def test_request_legislation_has_no_persons() -> None:
    document = _load("request-legislation.xml")
    assert isinstance(document, Request)
    assert document.topic == "migration-legislation"
    assert document.persons == ()
    assert document.requested_data == ()
    assert document.header.confidentiality == "official-use"


def test_request_photo_content() -> None:
    document = _load("request-photo.xml")
    assert isinstance(document, Request)
    (person,) = document.persons
    assert person.name_cyrillic.surname == "Д'Артаньян-Ковалёва"
    assert person.name_latin.surname == "D'Artanyan-Kovaleva"
    assert person.photo is not None
    assert person.photo.data.startswith(b"\xff\xd8\xff")


def test_response_photo_answers_request_photo() -> None:
    request = _load("request-photo.xml")
    document = _load("response-photo.xml")
    assert isinstance(request, Request)
    assert isinstance(document, Response)
    assert (document.header.sender, document.header.recipient) == ("BY-MVD", "KZ-MVD")
    assert document.in_reply_to is not None
    assert document.in_reply_to.registration_number == "KZ-MVD-2026-000001"
    assert document.in_reply_to.date == request.header.document_date
    assert document.outcome == "full"
    (person,) = document.persons
    assert person.name_latin == request.persons[0].name_latin
    assert person.photo is not None and request.persons[0].photo is not None
    assert person.photo.media_type == "image/jpeg"
    assert person.photo.data == request.persons[0].photo.data


def test_response_partial_multipage_content() -> None:
    document = _load("response-partial-multipage.xml")
    assert isinstance(document, Response)
    assert document.outcome == "partial"
    assert len(document.persons) == 11
    assert document.in_reply_to is not None
    assert document.in_reply_to.registration_number == "BY-GPK-2026-000045"
    assert document.persons[2].name_cyrillic.given_name == "Вольга"
    assert [p.kind for p in document.persons[2].residence_permits] == ["temporary", "permanent"]
    assert document.persons[9].name_latin.patronymic == "Rafael oglu"


def test_refusal_notices_content() -> None:
    full = _load("refusal-notice-full.xml")
    partial = _load("refusal-notice-partial.xml")
    assert isinstance(full, RefusalNotice)
    assert isinstance(partial, RefusalNotice)
    assert (full.scope, full.grounds) == ("full", ("security", "public-order"))
    assert (partial.scope, partial.grounds) == ("partial", ("contrary-to-legislation",))
    paragraphs = [p for p in re.split(r"\n\s*\n", partial.reasons) if p.strip()]
    assert len(paragraphs) == 4
    assert full.persons == partial.persons == ()


# ----- invalid samples --------------------------------------------------------------------


def test_every_invalid_sample_has_its_expected_errors() -> None:
    xml = {p.stem for p in INVALID_SAMPLES}
    expected = {p.name.removesuffix(".expected.json") for p in INVALID_DIR.glob("*.expected.json")}
    assert xml == expected
    assert len(xml) >= 16


_CODES = {
    cls.code: cls
    for cls in (InputTooLarge, MalformedXml, UnsafeXml, SchemaViolation, InconsistentDocument)
}


@pytest.mark.parametrize("path", INVALID_SAMPLES, ids=lambda p: p.stem)
def test_invalid_sample_reports_expected_violations(path: Path) -> None:
    expected = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    error = _parse_error(path.read_bytes())

    assert error.code == expected["code"]
    assert type(error) is _CODES[expected["code"]]
    actual_pairs = Counter((v.line, v.path) for v in error.violations)
    expected_pairs = Counter((e["line"], e["path"]) for e in expected["violations"])
    assert actual_pairs == expected_pairs, [str(v) for v in error.violations]
    for item in expected["violations"]:
        messages = [
            v.message for v in error.violations if (v.line, v.path) == (item["line"], item["path"])
        ]
        assert any(item["contains"] in m for m in messages), (item, messages)


# ----- hostile and degenerate input -------------------------------------------------------

_MINIMAL_REQUEST = (SAMPLES_DIR / "request-legislation.xml").read_bytes()


def test_oversize_input_is_refused_before_parsing() -> None:
    error = _parse_error(_MINIMAL_REQUEST, max_bytes=100)
    assert isinstance(error, InputTooLarge)
    assert error.code == "too_large"
    assert [(v.line, v.path) for v in error.violations] == [(None, "/")]
    assert str(len(_MINIMAL_REQUEST)) in error.message


def test_input_at_the_size_limit_is_accepted() -> None:
    parse_document(_MINIMAL_REQUEST, max_bytes=len(_MINIMAL_REQUEST))


@pytest.mark.parametrize("raw", [b"", b"   \n\t  "], ids=["empty", "blank"])
def test_empty_input(raw: bytes) -> None:
    error = _parse_error(raw)
    assert isinstance(error, MalformedXml)
    assert [(v.line, v.path) for v in error.violations] == [(1, "/")]


def _nested(depth: int) -> bytes:
    return (
        b'<request xmlns="urn:migdocs:kz-by-migration:v1">'
        + b"<a>" * depth
        + b"</a>" * depth
        + b"</request>"
    )


def test_nesting_beyond_the_limit_is_unsafe() -> None:
    error = _parse_error(_nested(MAX_DEPTH + 8))
    assert isinstance(error, UnsafeXml)
    (violation,) = error.violations
    assert violation.path.count("/a") == MAX_DEPTH


@pytest.mark.parametrize("depth", [1_000, 200_000])
def test_deep_nesting_attack_is_an_input_error_not_a_crash(depth: int) -> None:
    error = _parse_error(_nested(depth))
    assert error.code in {"malformed_xml", "unsafe_xml"}
    assert len(error.violations) == 1


_PASSWD_DOCUMENTS = {
    "entity-in-text": (INVALID_DIR / "unsafe-external-entity.xml").read_bytes(),
    "entity-in-attribute": b"""<?xml version="1.0"?>
<!DOCTYPE request [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<request xmlns="urn:migdocs:kz-by-migration:v1" id="&xxe;"/>
""",
    "parameter-entity": b"""<?xml version="1.0"?>
<!DOCTYPE request [<!ENTITY % xxe SYSTEM "file:///etc/passwd"> %xxe;]>
<request xmlns="urn:migdocs:kz-by-migration:v1"/>
""",
    "external-dtd": b"""<?xml version="1.0"?>
<!DOCTYPE request SYSTEM "file:///etc/passwd">
<request xmlns="urn:migdocs:kz-by-migration:v1"/>
""",
    "xinclude": b"""<?xml version="1.0"?>
<request xmlns="urn:migdocs:kz-by-migration:v1" xmlns:xi="http://www.w3.org/2001/XInclude">
  <xi:include href="file:///etc/passwd" parse="text"/>
</request>
""",
}


@pytest.mark.parametrize("raw", _PASSWD_DOCUMENTS.values(), ids=_PASSWD_DOCUMENTS.keys())
def test_no_message_echoes_an_external_file(raw: bytes) -> None:
    error = _parse_error(raw)
    text = _messages(error) + "".join(v.path for v in error.violations)
    assert "root:" not in text
    assert "/bin/" not in text
    assert "nologin" not in text


def test_doctype_is_refused_even_without_entities() -> None:
    raw = _MINIMAL_REQUEST.replace(b"?>\n", b"?>\n<!DOCTYPE request>\n", 1)
    error = _parse_error(raw)
    assert isinstance(error, UnsafeXml)


def test_photo_declared_png_with_jpeg_bytes_is_inconsistent() -> None:
    raw = (SAMPLES_DIR / "response-photo.xml").read_bytes()
    raw = raw.replace(b'mediaType="image/jpeg"', b'mediaType="image/png"')
    error = _parse_error(raw)
    assert isinstance(error, InconsistentDocument)
    assert [v.path for v in error.violations] == ["/response/persons/person/photo"]


def test_real_png_photo_is_accepted() -> None:
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    raw = (SAMPLES_DIR / "response-photo.xml").read_text(encoding="utf-8")
    raw = re.sub(
        r'<photo mediaType="image/jpeg">.*?</photo>',
        f'<photo mediaType="image/png">{base64.b64encode(png).decode()}</photo>',
        raw,
        flags=re.S,
    )
    document = parse_document(raw.encode("utf-8"))
    assert document.persons[0].photo is not None
    assert document.persons[0].photo.data == png


def test_parse_errors_do_not_leak_into_the_next_report() -> None:
    first = (INVALID_DIR / "malformed-mismatched-tag.xml").read_bytes()
    second = (INVALID_DIR / "not-utf8.xml").read_bytes()
    _parse_error(first)
    error = _parse_error(second)
    assert "otherInfo" not in _messages(error)
    assert len(error.violations) == 1


@pytest.mark.parametrize("value", ["12026-11-20", "-0001-11-20"])
def test_out_of_range_year_is_an_input_error(value: str) -> None:
    raw = _MINIMAL_REQUEST.replace(b"<documentDate>2026-10-21", f"<documentDate>{value}".encode())
    _parse_error(raw)


# ----- vocabulary covers the schemas ------------------------------------------------------

# Owner of an enumeration → the vocabulary tables that must label every value.  Named simple
# types by name, anonymous ones by "ComplexType/element".  None: codes that are never printed.
_LABELS: dict[str, tuple[dict[str, object], ...] | None] = {
    "AuthorityCode": (vocabulary.AUTHORITIES,),
    "Confidentiality": (vocabulary.CONFIDENTIALITY,),
    "Sex": (vocabulary.SEX,),
    "PersonCategory": (vocabulary.CATEGORIES,),
    "Topic": (vocabulary.TOPICS,),
    "DataItem": (vocabulary.DATA_ITEMS,),
    "Scope": (vocabulary.RESPONSE_OUTCOMES, vocabulary.REFUSAL_SCOPES),
    "RefusalGround": (vocabulary.REFUSAL_GROUNDS,),
    "DelayCircumstance": (vocabulary.DELAY_CIRCUMSTANCES,),
    "PostponementKind": (vocabulary.POSTPONEMENT_KINDS,),
    "PostponementGround": (vocabulary.POSTPONEMENT_GROUNDS,),
    "AuthenticityDoubt": (vocabulary.AUTHENTICITY_DOUBTS,),
    "ConsentDecision": (vocabulary.CONSENT_DECISIONS,),
    "ConditionsDecisionCode": (vocabulary.CONDITIONS_DECISIONS,),
    "ConfidentialityDecisionCode": (vocabulary.CONFIDENTIALITY_DECISIONS,),
    "IdentityDocument/kind": (vocabulary.IDENTITY_DOCUMENT_KINDS,),
    "ResidencePermit/kind": (vocabulary.RESIDENCE_PERMIT_KINDS,),
    "TravelRestriction/kind": (vocabulary.TRAVEL_RESTRICTION_KINDS,),
    "ImageType": None,  # MIME types
    "FingerprintCardType": None,
}


def _schema_enumerations() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for xsd in sorted(SCHEMA_DIR.glob("*.xsd")):
        for enum in etree.parse(str(xsd)).iter(f"{XS}enumeration"):
            simple_type = next(enum.iterancestors(f"{XS}simpleType"))
            owner = simple_type.get("name")
            if owner is None:
                element = next(simple_type.iterancestors(f"{XS}element"))
                complex_type = next(element.iterancestors(f"{XS}complexType"))
                owner = f"{complex_type.get('name')}/{element.get('name')}"
            found.setdefault(owner, set()).add(enum.get("value"))
    return found


def test_every_schema_enumeration_has_a_russian_label() -> None:
    enumerations = _schema_enumerations()
    assert set(enumerations) == set(_LABELS), "map the new enumeration in _LABELS"
    for owner, values in enumerations.items():
        for table in _LABELS[owner] or ():
            assert set(table) == values, owner
            for code, label in table.items():
                text = label.name_ru if isinstance(label, vocabulary.Authority) else label
                assert isinstance(text, str) and re.search("[А-Яа-яЁё]", text), (owner, code)


def test_authority_names_match_the_schema_documentation() -> None:
    xsd = etree.parse(str(SCHEMA_DIR / "common.xsd"))
    documented = {
        e.get("value"): e.findtext(f"{XS}annotation/{XS}documentation")
        for e in xsd.iterfind(f"{XS}simpleType[@name='AuthorityCode']//{XS}enumeration")
    }
    assert documented == {c: a.name_ru for c, a in vocabulary.AUTHORITIES.items()}


# ----- the fast (libxml2) and the detailed (xmlschema) validators agree ---------------------


@pytest.mark.parametrize("path", [*VALID_SAMPLES, *INVALID_SAMPLES], ids=lambda p: p.name)
def test_fast_and_detailed_validators_agree(path: Path) -> None:
    import xmlschema

    from service.pipeline.xmlinput import fast_schema, parse, schema

    try:
        root = parse(path.read_bytes())
    except InputError:
        return  # refused before validation: neither validator ever sees it
    if etree.QName(root).localname not in ROOT_TO_TYPE:
        return
    resource = xmlschema.XMLResource(root, allow="none", defuse="always")
    detailed_ok = not list(schema().iter_errors(resource))
    assert fast_schema().validate(root) is detailed_ok
