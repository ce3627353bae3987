"""Sample blank forms («образцы бланков», Art. 9.3): every document type × every authority.

A sample form is the document template rendered with visible placeholders («[Фамилия]»,
dates «[ДД.ММ.ГГГГ]», one person with every Art. 6 field where the type's schema carries
persons, every section the schema has), watermarked «ОБРАЗЕЦ» and stamped with the form
version and its effective date (:data:`service.pipeline.rendering.FORM_VERSION`,
``FORM_EFFECTIVE_DATE``) in the page footer and in the XMP (``dc:type``
``migdocs-form:<version>``).  The service signs it in the name of the authority
(:mod:`service.domain.form_signing`): Art. 9.3 exchanges the forms as official samples.

The placeholder model is built here in Python, not parsed from XML: placeholders such as
«[Фамилия]» are deliberately *not* schema-valid (a Cyrillic name may not contain brackets),
so a sample can never be mistaken for, or posted as, a real document.  The embedded
``source.xml`` is a well-formed placeholder XML in the documents' namespace, carrying
``sample="true"`` on its root element; it fails schema validation by design.

Forms are rendered lazily and cached per process, keyed by (type, authority, version).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import io
import threading
import typing
import uuid
from dataclasses import dataclass
from typing import Any

import PIL.Image
import PIL.ImageDraw
from lxml import etree

from service.errors import NotFound
from service.pipeline.document import (
    DOCUMENT_CLASSES,
    BinaryContent,
    Document,
    Executor,
    FullName,
    Header,
    IdentityDocument,
    LegalEntity,
    LiabilityRecord,
    Person,
    RefusalNotice,
    Request,
    RequestReference,
    Residence,
    ResidencePermit,
    Response,
    TravelRestriction,
)
from service.pipeline.letterhead import Parties, seed_parties
from service.pipeline.rendering import (
    FORM_EFFECTIVE_DATE,
    FORM_VERSION,
    PLACEHOLDER_DATE,
    Renderer,
    ru_date,
)
from service.pipeline.vocabulary import AUTHORITIES, DOCUMENT_TITLES
from service.pipeline.xmlinput import NAMESPACE, ROOT_TO_TYPE, schema
from signing.appearance import SIGNED_MARK

FORM_TYPES: tuple[str, ...] = tuple(DOCUMENT_TITLES)
"""Every document type has a sample form, in the order of :data:`DOCUMENT_TITLES`."""

DEFAULT_AUTHORITY = "KZ-MVD"
"""Sender authority of a form when the request does not name one."""

PLACEHOLDER_XML_DATE = "[ГГГГ-ММ-ДД]"

_SAMPLE_UUID_NAMESPACE = uuid.UUID("6f0d7c1e-5b2a-4c61-9f3e-0a4b8d2c7e15")


@dataclass(frozen=True)
class SampleForm:
    """One rendered sample blank form."""

    document_type: str
    authority: str
    version: str
    pdf: bytes
    sha256: str
    page_count: int
    signatory_id: str | None = None
    """Who signed the form for its authority (None: unsigned)."""


def counterpart(authority: str) -> str:
    """The Art. 2 authority of the other Party used as placeholder recipient."""
    return "BY-MVD" if AUTHORITIES[authority].country == "KZ" else "KZ-MVD"


@functools.cache
def schema_children(document_type: str) -> tuple[str, ...]:
    """The child elements the schema allows under the root of ``document_type``."""
    root = next(name for name, code in ROOT_TO_TYPE.items() if code == document_type)
    root_type: Any = schema().elements[root].type  # complex: every root is a sequence
    return tuple(str(e.local_name) for e in root_type.content.iter_elements())


def carries_persons(document_type: str) -> bool:
    """Whether documents of this type may carry persons (its schema has ``persons``)."""
    return "persons" in schema_children(document_type)


def _document_id(document_type: str, authority: str, version: str) -> str:
    return str(uuid.uuid5(_SAMPLE_UUID_NAMESPACE, f"{document_type}/{authority}/{version}"))


@functools.cache
def placeholder_photo() -> bytes:
    """A light-grey 3×4 frame standing in for the photo (PNG, 150×200 px)."""
    image = PIL.Image.new("RGB", (150, 200), (235, 235, 235))
    PIL.ImageDraw.Draw(image).rectangle((0, 0, 149, 199), outline=(120, 120, 120), width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@functools.cache
def placeholder_card() -> bytes:
    """An empty ten-print grid standing in for the fingerprint card (PNG, as the schema
    allows: PDF, JPEG, PNG or binary; never a text file)."""
    image = PIL.Image.new("RGB", (500, 200), (255, 255, 255))
    draw = PIL.ImageDraw.Draw(image)
    for row in range(2):
        for col in range(5):
            box = (col * 100 + 4, row * 100 + 4, col * 100 + 96, row * 100 + 96)
            draw.rectangle(box, outline=(120, 120, 120), width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _placeholder_person() -> Person:
    return Person(
        number=1,
        category="[категория лица по статье 5 Соглашения]",
        name_cyrillic=FullName("[Фамилия]", "[Имя]", "[Отчество]"),
        name_latin=FullName("[Surname]", "[Given name]", "[Patronymic]"),
        sex="[пол]",
        birth_date=PLACEHOLDER_DATE,
        birth_place="[место рождения]",
        citizenship="[гражданство]",
        identity_documents=(
            IdentityDocument(
                "[вид документа]",
                "[серия]",
                "[номер]",
                PLACEHOLDER_DATE,
                "[орган, выдавший документ]",
            ),
        ),
        administrative_liability=(
            LiabilityRecord(PLACEHOLDER_DATE, "[статья закона]", "[принятое решение]", "[орган]"),
        ),
        criminal_liability=(
            LiabilityRecord(PLACEHOLDER_DATE, "[статья закона]", "[принятое решение]", "[орган]"),
        ),
        residences=(Residence("[страна]", "[адрес места жительства]", PLACEHOLDER_DATE),),
        residence_permits=(
            ResidencePermit(
                "[вид разрешения]",
                "[номер]",
                PLACEHOLDER_DATE,
                PLACEHOLDER_DATE,
                "[орган, выдавший разрешение]",
            ),
        ),
        travel_restrictions=(
            TravelRestriction(
                "[запрет на въезд / ограничение выезда]",
                "[страна]",
                PLACEHOLDER_DATE,
                PLACEHOLDER_DATE,
                "[орган, принявший решение]",
                "[основание]",
            ),
        ),
        photo=BinaryContent("image/png", placeholder_photo()),
        fingerprint_card=BinaryContent("image/png", placeholder_card(), "obrazec-karta.png"),
    )


PLACEHOLDER_ENTITY = LegalEntity(
    "[наименование юридического лица]",
    "[регистрационный номер]",
    "[страна регистрации]",
    "[адрес]",
)


def placeholder_document(document_type: str, authority: str) -> Document:
    """The typed model of a sample form: placeholders in every field, every section present."""
    header = Header(
        document_id=_document_id(document_type, authority, FORM_VERSION),
        document_date=PLACEHOLDER_DATE,
        sender=authority,
        recipient=counterpart(authority),
        signatory="[signatory]",
        confidentiality="confidential",
        executor=Executor("[И.О. Фамилия исполнителя]", "[телефон]"),
    )
    persons = (_placeholder_person(),) if carries_persons(document_type) else ()
    reference = RequestReference("[номер запроса]", PLACEHOLDER_DATE)
    if document_type == "request":
        return Request(
            document_type="request",
            header=header,
            persons=persons,
            topic="[тема запроса по статьям 3 и 4 Соглашения]",
            summary="[Краткое изложение существа запроса]",
            purpose="[Цель запроса]",
            justification="[Обоснование запроса]",
            requested_data=("[запрашиваемые сведения из перечня статьи 6 Соглашения]",),
            other_information="[Иная информация, которая может быть полезна]",
            legal_entities=(PLACEHOLDER_ENTITY,),
        )
    if document_type == "response":
        return Response(
            document_type="response",
            header=header,
            persons=persons,
            in_reply_to=reference,
            outcome="[Запрос исполнен в полном объёме / частично.]",
            narrative="[Сведения по существу запроса]",
            legal_entities=(PLACEHOLDER_ENTITY,),
        )
    if document_type == "refusal-notice":
        return RefusalNotice(
            document_type="refusal-notice",
            header=header,
            persons=persons,
            in_reply_to=reference,
            scope="[в исполнении запроса отказано полностью / частично]",
            grounds=("[основание отказа по пункту 4 статьи 10 Соглашения]",),
            reasons="[Причины отказа]",
        )
    cls = DOCUMENT_CLASSES.get(document_type)
    if cls is None:
        raise NotFound(f"no sample form for document type {document_type!r}")
    return _generic_placeholder(cls, document_type, header, persons, reference)


_PLACEHOLDER_LABELS = {
    "requested_information": "запрашиваемая дополнительная информация",
    "justification": "обоснование",
    "circumstance": "препятствие / задержка",
    "reason": "причина",
    "kind": "отложить исполнение / условия исполнения",
    "ground": "основание по пункту 2 статьи 10 Соглашения",
    "reasons": "причины",
    "conditions": "условия",
    "doubt": "характер сомнений",
    "explanation": "пояснение",
    "topic": "тема по статьям 3 и 4 Соглашения",
    "summary": "краткое изложение",
    "information": "информация",
    "circumstances": "обстоятельства",
    "disclosure": "что потребует раскрытия запроса",
    "third_party": "третья сторона",
    "third_party_country": "страна третьей стороны",
    "purpose": "цель передачи",
    "decision": "согласие / отказ",
    "comments": "пояснения",
}
"""Russian placeholders for the fields of the later document types."""


def _generic_placeholder(
    cls: type[Document],
    document_type: str,
    header: Header,
    persons: tuple[Person, ...],
    reference: RequestReference,
) -> Document:
    """Fill every field of a document class from its type: text «[field]», dates, refs."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {"document_type": document_type, "header": header}
    for f in dataclasses.fields(cls):
        if f.name in values:
            continue
        hint = hints[f.name]
        label = f"[{_PLACEHOLDER_LABELS.get(f.name, f.name.replace('_', ' '))}]"
        if f.name == "persons":
            values[f.name] = persons
        elif f.name == "legal_entities":
            values[f.name] = (PLACEHOLDER_ENTITY,)
        elif f.name == "in_reply_to" and "request" in {g.name for g in dataclasses.fields(cls)}:
            # The requesting side's answers: «На №» names the letter answered, not the request.
            values[f.name] = RequestReference("[рег. номер уведомления]", PLACEHOLDER_DATE)
        elif "RequestReference" in str(hint):
            values[f.name] = (reference,) if "tuple" in str(hint) else reference
        elif "date" in str(hint):
            values[f.name] = PLACEHOLDER_DATE
        elif hint is bool:
            values[f.name] = True
        elif "tuple" in str(hint):
            values[f.name] = (label,)
        else:
            values[f.name] = label
    return cls(**values)


# ----- placeholder source XML -------------------------------------------------------------

_XML_NAMES = {
    "name_cyrillic": "nameCyrillic",
    "name_latin": "nameLatin",
    "identity_documents": "identityDocument",
    "administrative_liability": "administrativeLiability",
    "criminal_liability": "criminalLiability",
    "residences": "residence",
    "residence_permits": "residencePermit",
    "travel_restrictions": "travelRestriction",
    "requested_data": "requestedData",
    "grounds": "grounds",
    "persons": "persons",
    "legal_entities": "legalEntities",
}
_ITEM_NAMES = {
    "requested_data": "item",
    "grounds": "ground",
    "persons": "person",
    "legal_entities": "legalEntity",
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _xml_value(parent: etree._Element, field: str, value: Any) -> None:
    """Append ``value`` as element(s) named after ``field`` (repeated fields repeat)."""
    if value is None or value == () or field == "document_type" or isinstance(value, int):
        return  # the person's position is implicit in the XML
    tag = _XML_NAMES.get(field) or _camel(field)
    q = f"{{{NAMESPACE}}}"
    if isinstance(value, tuple):
        item = _ITEM_NAMES.get(field)
        container = etree.SubElement(parent, q + tag) if item else parent
        for entry in value:
            _xml_value(container, item or field, entry)
        return
    if isinstance(value, BinaryContent):
        elem = etree.SubElement(parent, q + tag, mediaType=value.media_type)
        if value.file_name:
            elem.set("fileName", value.file_name)
        elem.text = "[base64]"
        return
    if hasattr(value, "__dataclass_fields__"):
        elem = etree.SubElement(parent, q + tag)
        for name in value.__dataclass_fields__:
            _xml_value(elem, name, getattr(value, name))
        return
    elem = etree.SubElement(parent, q + tag)
    if isinstance(value, dt.date):
        elem.text = PLACEHOLDER_XML_DATE if value == PLACEHOLDER_DATE else value.isoformat()
    else:
        elem.text = str(value)


def placeholder_xml(doc: Document) -> bytes:
    """Well-formed (not schema-valid) XML twin of a sample form, marked ``sample="true"``."""
    root = etree.Element(f"{{{NAMESPACE}}}{doc.document_type}", nsmap={None: NAMESPACE})
    root.set("sample", "true")
    root.set("formVersion", FORM_VERSION)
    root.append(
        etree.Comment(
            " ОБРАЗЕЦ БЛАНКА (статья 9.3 Соглашения): значения в квадратных скобках — "
            "заполнители; документ не проходит проверку по схеме и не является документом "
        )
    )
    for name in doc.__dataclass_fields__:
        _xml_value(root, name, getattr(doc, name))
    order = schema_children(doc.document_type)
    elements = [c for c in root if isinstance(c.tag, str)]
    for child in elements:
        root.remove(child)
    rank = {name: i for i, name in enumerate(order)}
    for child in sorted(elements, key=lambda c: rank.get(etree.QName(c).localname, len(rank))):
        root.append(child)  # in the schema's order, as a real document has them
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


# ----- rendering --------------------------------------------------------------------------

_PLACEHOLDER_SIGNATURE_LINES = [
    SIGNED_MARK,
    "[Должность уполномоченного лица] [орган]",
    "[Фамилия Имя Отчество] ([Surname Given name])",
    "Дата подписания: [ДД.ММ.ГГГГ ЧЧ:ММ:СС (UTC±ЧЧ:ММ)]",
    "Регистрационный номер: [регистрационный номер]",
    "Сертификат: [серийный номер сертификата]",
    "Владелец: [владелец сертификата]",
    "Действителен: с [ДД.ММ.ГГГГ] по [ДД.ММ.ГГГГ]",
]


def render_form(
    renderer: Renderer,
    document_type: str,
    authority: str,
    parties: Parties | None = None,
    approval: str | None = None,
) -> SampleForm:
    """Render one sample form, unsigned (uncached; use :class:`FormCache`).

    ``parties``: the registry versions for the letterhead (default: the seed);
    ``approval``: who approves the form («Министр внутренних дел МВД РК Н.Б. Сапаров»),
    printed above the title when the form is to be signed.
    """
    check(document_type, authority)
    doc = placeholder_document(document_type, authority)
    sender = (parties or seed_parties(authority, counterpart(authority))).sender
    recipient = dataclasses.replace(
        seed_parties(authority, counterpart(authority)).recipient,
        name_ru="[Наименование компетентного органа другой Стороны]",
        short_name_ru="[орган другой Стороны]",
    )
    context = renderer.context(doc, "[рег. номер]", sample=True, parties=Parties(sender, recipient))
    context.update(
        form_version=FORM_VERSION,
        form_effective=ru_date(FORM_EFFECTIVE_DATE),
        form_approval=approval,
        signature=True,
        signature_lines=_PLACEHOLDER_SIGNATURE_LINES,
        signature_line={
            "position": "[Должность уполномоченного лица] [орган]",
            "name": "[И.О. Фамилия]",
        },
        signature_qr=False,
    )
    html = renderer.jinja.get_template(f"{document_type}.html.j2").render(context)
    rendered = renderer.pdf(doc, html, placeholder_xml(doc), parties=Parties(sender, recipient))
    return SampleForm(
        document_type=document_type,
        authority=authority,
        version=FORM_VERSION,
        pdf=rendered.pdf,
        sha256=hashlib.sha256(rendered.pdf).hexdigest(),
        page_count=rendered.page_count,
    )


def check(document_type: str, authority: str) -> None:
    """Raise :class:`NotFound` (→ 404) with a clear message for an unknown type/authority."""
    if document_type not in FORM_TYPES:
        raise NotFound(
            f"no sample form for document type {document_type!r}; "
            f"known types: {', '.join(FORM_TYPES)}"
        )
    if authority not in AUTHORITIES:
        raise NotFound(
            f"unknown authority {authority!r}; known authorities: {', '.join(AUTHORITIES)}"
        )


def catalogue() -> list[tuple[str, str, str]]:
    """(document type, Russian title, authority) of every sample form, in display order."""
    return [(t, DOCUMENT_TITLES[t], a) for t in FORM_TYPES for a in AUTHORITIES]


class FormSigner(typing.Protocol):
    """Signs forms in the name of their authority (:mod:`service.domain.form_signing`)."""

    def approver_key(self, authority: str) -> str:
        """Changes when the person who would sign the authority's forms changes."""

    def render_signed(self, renderer: Renderer, document_type: str, authority: str) -> SampleForm:
        """The form rendered with the authority's requisites and approval, signed."""


class FormCache:
    """Sample forms rendered on first request and kept for the life of the process.

    Signed forms are keyed by their approver too: a new head of the authority (or a new
    version of the registry entry) gets newly signed forms.
    """

    def __init__(self) -> None:
        self._forms: dict[tuple[str, ...], SampleForm] = {}
        self._lock = threading.Lock()

    def get(
        self,
        renderer: Renderer,
        document_type: str,
        authority: str,
        signing: FormSigner | None = None,
    ) -> SampleForm:
        check(document_type, authority)
        key: tuple[str, ...] = (document_type, authority, FORM_VERSION)
        if signing is not None:
            key += (signing.approver_key(authority),)
        form = self._forms.get(key)
        if form is None:
            with self._lock:  # renders are serialised by the renderer anyway
                form = self._forms.get(key)
                if form is None:
                    if signing is None:
                        form = render_form(renderer, document_type, authority)
                    else:
                        form = signing.render_signed(renderer, document_type, authority)
                    self._forms[key] = form
        return form

    def clear(self) -> None:
        with self._lock:
            self._forms.clear()


FORMS = FormCache()
"""The process-wide cache."""
