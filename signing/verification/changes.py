# mypy: disallow-untyped-calls=False
"""What changed after a signature: a Russian description of later revisions, and the
diff policy for the unsigned tail of the file.

pyHanko's diff policy judges the revisions between signatures.  The revisions after the
last covering signature are signed by nobody, so :func:`unsigned_changes` is stricter
than pyHanko there: only validation data (DSS) and archive timestamps may be added.
Anything a viewer would show or a verifier would read — a page, a content stream, an
XObject, an optional-content group, the XMP or ``/Info`` metadata, the catalog, the
attachments — is a forbidden change, however pyHanko classes it.

What is new on a page is judged by *where* it is, not by what it claims to be: every
entry added to a page's ``/Annots`` and every field added to the form must be a signature
field that provably draws nothing (a zero-area ``/Rect`` of four numbers and no ``/AP`` at
all, as pyHanko writes an archive timestamp's field).  Viewers differ on everything else
— pdf.js paints a widget without ``/Subtype``, a ``/Rect`` of five numbers, an appearance
given only for rollover — so "not an annotation" or "no normal appearance" is never proof
that nothing shows.
"""

from __future__ import annotations

from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from ..errors import VerificationBudgetExceeded
from .metadata_diff import metadata_differs
from .structure import Budget, get, page_refs


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def describe_changes(
    reader: PdfFileReader, signed_revision: int, budget: Budget | None = None
) -> tuple[str, ...]:
    """What the revisions after ``signed_revision`` changed, in Russian sentences."""
    budget = budget or Budget()
    total = reader.xrefs.total_revisions
    if signed_revision >= total - 1:
        return ()
    try:
        before = reader.get_historical_resolver(signed_revision)
        pages_before = page_refs(before.root, budget)
        pages_after = page_refs(reader.root, budget)
        changed: set[generic.Reference] = set()
        for revision in range(signed_revision + 1, total):
            changed |= set(reader.xrefs.explicit_refs_in_revision(revision))
        budget.tick(len(changed))
    except VerificationBudgetExceeded:
        raise
    except Exception as exc:  # never let the description break the report
        return (f"Изменения не удалось описать ({type(exc).__name__})",)
    out: list[str] = [f"Ревизий после подписания: {total - 1 - signed_revision}"]
    added = [i + 1 for i, ref in enumerate(pages_after) if ref not in set(pages_before)]
    removed = [i + 1 for i, ref in enumerate(pages_before) if ref not in set(pages_after)]
    if added:
        out.append(
            f"Добавлен{'а' if len(added) == 1 else 'ы'} "
            f"{_plural(len(added), 'страница', 'страницы', 'страниц')} № "
            f"{', '.join(map(str, added))} (страниц при подписании: {len(pages_before)}, "
            f"сейчас: {len(pages_after)})"
        )
    if removed:
        out.append(
            f"Удален{'а' if len(removed) == 1 else 'ы'} "
            f"{_plural(len(removed), 'страница', 'страницы', 'страниц')} № "
            f"{', '.join(map(str, removed))} подписанной версии"
        )
    kept = {ref: i + 1 for i, ref in enumerate(pages_after) if ref in set(pages_before)}
    content_of: dict[generic.Reference, int] = {}
    new_parts: set[generic.Reference] = set()
    for ref in pages_after:
        budget.tick()
        try:
            page = before(ref) if ref in kept else reader.get_object(ref)
            contents = page.raw_get("/Contents")
        except Exception:
            continue
        items = contents if isinstance(contents, generic.ArrayObject) else [contents]
        for item in items:
            if isinstance(item, generic.IndirectObject):
                if ref in kept:
                    content_of[item.reference] = kept[ref]
                else:
                    new_parts.add(item.reference)
    modified_pages = sorted(
        {kept[r] for r in changed if r in kept}
        | {content_of[r] for r in changed if r in content_of}
    )
    annots: dict[str, int] = {}
    kinds: set[str] = set()
    other = 0
    pages_after_set = set(pages_after)
    for ref in sorted(changed, key=lambda r: r.idnum):
        budget.tick()
        if ref in kept or ref in content_of or ref in new_parts or ref in pages_after_set:
            continue
        try:
            obj = reader.get_object(ref)
        except Exception:
            other += 1
            continue
        if not isinstance(obj, generic.DictionaryObject):
            other += 1
            continue
        typ = obj.get("/Type")
        if typ in ("/Catalog", "/Pages", "/XRef", "/ObjStm"):
            continue
        if typ in ("/Sig", "/DocTimeStamp") or (obj.get("/FT") == "/Sig" and typ != "/Annot"):
            kinds.add("добавлена подпись или метка времени")
        elif typ == "/Annot" or ("/Subtype" in obj and "/Rect" in obj):
            subtype = str(obj.get("/Subtype", "?")).lstrip("/")
            if subtype == "Widget" and obj.get("/FT") == "/Sig":
                kinds.add("добавлено поле подписи")
            else:
                annots[subtype] = annots.get(subtype, 0) + 1
        elif typ == "/Metadata":
            kinds.add("обновлены метаданные XMP")
        elif typ == "/EmbeddedFile" or typ == "/Filespec":
            kinds.add("изменены вложенные файлы")
        elif "/VRI" in obj or "/OCSPs" in obj or "/CRLs" in obj:
            kinds.add("добавлены данные для долгосрочной проверки (DSS)")
        elif "/Fields" in obj:
            kinds.add("изменена интерактивная форма")
        else:
            other += 1
    if modified_pages:
        out.append(f"Изменено содержимое страниц № {', '.join(map(str, modified_pages))}")
    for subtype, n in sorted(annots.items()):
        out.append(f"Добавлены или изменены аннотации {subtype}: {n}")
    out.extend(sorted(kinds))
    if other:
        out.append(f"Прочих изменённых объектов: {other}")
    return tuple(s[0].upper() + s[1:] for s in out)


# --------------------------------------------------------------------------- unsigned tail

_CATALOG_ALLOWED = {"/DSS", "/Extensions", "/AcroForm"}
"""Catalog keys an unsigned update may change: validation data and new (empty) fields."""
_DSS_KEYS = {"/Type", "/VRI", "/OCSPs", "/CRLs", "/Certs"}
_CATALOG_KIND = {
    "/Names": "attachments",
    "/AF": "attachments",
    "/Pages": "pages",
    "/OCProperties": "pages",
}
_SENTENCES = {
    "metadata": "изменены метаданные после подписания (XMP или /Info): сведения о документе "
    "берутся только из подписанной версии",
    "attachments": "изменены вложенные файлы после подписания",
    "pages": "изменены страницы, их содержимое или видимость слоёв после подписания",
    "objects": "изменены объекты подписанной версии (содержимое, шрифты, изображения "
    "или ресурсы страниц)",
    "removed": "удалены объекты подписанной версии",
}


def _is_annotation(obj: Any) -> bool:
    return isinstance(obj, generic.DictionaryObject) and "/Rect" in obj and "/Subtype" in obj


def _draws(annot: generic.DictionaryObject) -> bool:
    """An annotation with a normal appearance and a non-empty rectangle draws on a page."""
    try:
        rect = [float(v) for v in annot["/Rect"]]
        ap = get(annot, "/AP")
    except Exception:
        return True  # unreadable: assume the worst
    if len(rect) != 4 or (abs(rect[2] - rect[0]) < 0.01 or abs(rect[3] - rect[1]) < 0.01):
        return False
    return isinstance(ap, generic.DictionaryObject) and "/N" in ap


MAX_FIELD_PARENTS = 32
"""``/Parent`` links followed to find a widget's inherited field type."""


def _field_type(node: generic.DictionaryObject) -> Any:
    """``/FT`` of the field or inherited from its parents (bounded, loop-safe)."""
    seen: set[int] = set()
    for _ in range(MAX_FIELD_PARENTS):
        if "/FT" in node:
            return get(node, "/FT")
        parent = get(node, "/Parent")
        if not isinstance(parent, generic.DictionaryObject) or id(parent) in seen:
            return None
        seen.add(id(parent))
        node = parent
    return None


_INERT_WIDGET_KEYS = frozenset(
    {"/Type", "/Subtype", "/FT", "/T", "/TU", "/Rect", "/F", "/P", "/V", "/Parent"}
)
"""All a signature widget added after signing may say: what pyHanko writes for an archive
timestamp's field (``/TU`` its tooltip, which a zero-area widget never shows).  Anything
else is something a viewer shows or does — an appearance, a border (``/MK``), and above
all an action (``/A``, ``/AA``: a zero-area field with page-open JavaScript was
TOTAL_PASSED)."""
_INERT_PARENT_KEYS = frozenset({"/FT", "/T", "/TU", "/Kids", "/V", "/Parent"})
"""All a new parent node of the field tree may say (its widgets are judged as above)."""


def draws_nothing(node: Any) -> bool:
    """A signature widget that no viewer can paint and that does nothing: ``/FT /Sig``, no
    key beyond :data:`_INERT_WIDGET_KEYS` (so no ``/AP`` and no action), and a ``/Rect``
    of exactly four finite numbers enclosing no area."""
    if not isinstance(node, generic.DictionaryObject):
        return False
    if {str(key) for key in node} - _INERT_WIDGET_KEYS:
        return False
    if node.get("/Subtype", "/Widget") != "/Widget" or node.get("/Type", "/Annot") != "/Annot":
        return False
    if _field_type(node) != "/Sig":
        return False
    rect = get(node, "/Rect")
    if not isinstance(rect, generic.ArrayObject) or len(rect) != 4:
        return False
    values = [v.get_object() if isinstance(v, generic.IndirectObject) else v for v in rect]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return False
    x1, y1, x2, y2 = (float(v) for v in values)
    return abs(x2 - x1) < 0.01 or abs(y2 - y1) < 0.01  # NaN or inf: False, so it draws


def _entries(array: Any) -> list[Any]:
    return list(array) if isinstance(array, generic.ArrayObject) else []


def _identity(entry: Any) -> Any:
    """How an array entry is recognised across revisions: its reference, or (a direct
    dictionary) its content."""
    return entry.reference if isinstance(entry, generic.IndirectObject) else entry


def _raw(d: generic.DictionaryObject, key: str) -> Any:
    return d.raw_get(key) if key in d else None


def _changed_keys(old: generic.DictionaryObject, new: generic.DictionaryObject) -> set[str]:
    keys = set(old) | set(new)
    return {str(k) for k in keys if _raw(old, k) != _raw(new, k)}


def _list_grew(old: Any, new: Any) -> bool:
    """``new`` keeps every entry of ``old`` (appending is allowed)."""
    old_items = list(old) if isinstance(old, generic.ArrayObject) else []
    new_items = list(new) if isinstance(new, generic.ArrayObject) else []
    return new_items[: len(old_items)] == old_items


class _Tail:
    """Classifies the objects written by the unsigned updates."""

    def __init__(self, reader: PdfFileReader, signed_revision: int, budget: Budget) -> None:
        self.reader = reader
        self.before = reader.get_historical_resolver(signed_revision)
        self.signed_revision = signed_revision
        self.budget = budget
        self.kinds: set[str] = set()
        self.visible: list[str] = []
        root_ref = reader.trailer_view.raw_get("/Root")
        self.root_ref = root_ref.reference if isinstance(root_ref, generic.IndirectObject) else None
        old_form = (
            self.before.root.raw_get("/AcroForm") if "/AcroForm" in self.before.root else None
        )
        self.form_ref = old_form.reference if isinstance(old_form, generic.IndirectObject) else None
        info = (
            self.before.trailer_view.raw_get("/Info")
            if "/Info" in self.before.trailer_view
            else None
        )
        self.info_ref = info.reference if isinstance(info, generic.IndirectObject) else None
        self.page_numbers = {ref: i + 1 for i, ref in enumerate(page_refs(reader.root, budget))}
        self.metadata_refs = {
            packet.reference
            for catalog in (self.before.root, reader.root)
            if isinstance(packet := _raw(catalog, "/Metadata"), generic.IndirectObject)
        }
        dss = reader.root.raw_get("/DSS") if "/DSS" in reader.root else None
        self.dss_ref = dss.reference if isinstance(dss, generic.IndirectObject) else None
        self.flagged: set[Any] = set()
        """Entries already named in :attr:`visible` (a widget is a field and an annot)."""

    def existed(self, ref: generic.Reference) -> bool:
        try:
            return bool(self.reader.xrefs.get_introducing_revision(ref) <= self.signed_revision)
        except Exception:
            return False

    def classify(self, ref: generic.Reference) -> None:
        self.budget.tick()
        obj = self.reader.get_object(ref)
        if not self.existed(ref):
            self._new(ref, obj)
        elif ref == self.root_ref:
            self._catalog(obj)
        elif ref == self.form_ref:
            old = self.before.get_object(ref)
            if _changed_keys(old, obj) - {"/Fields", "/SigFlags"} or not _list_grew(
                _raw(old, "/Fields"), _raw(obj, "/Fields")
            ):
                self.kinds.add("catalog:/AcroForm")
        elif ref != self.info_ref:  # /Info: judged with the XMP (metadata_diff)
            self._modified(ref, obj)

    def _name_visible(self, key: Any, obj: Any, number: int | None) -> None:
        """Name a new element that may show (once: a widget is a field and an annot)."""
        if key in self.flagged:
            return
        self.flagged.add(key)
        if number is None and isinstance(obj, generic.DictionaryObject):
            page = obj.raw_get("/P") if "/P" in obj else None
            if isinstance(page, generic.IndirectObject):
                number = self.page_numbers.get(page.reference)
        where = f"на страницу № {number}" if number else "в документ"
        if not isinstance(obj, generic.DictionaryObject):
            kind = "нечитаемый элемент"
        elif _field_type(obj) == "/Sig":
            kind = "поле подписи"
        elif "/Subtype" in obj:
            kind = f"аннотация {str(obj.get('/Subtype')).lstrip('/')}"
        else:
            kind = "элемент без типа"
        self.visible.append(
            f"после подписания {where} добавлен элемент ({kind}), который может быть "
            "виден при просмотре и не охвачен подписью"
        )

    def new_annotations(self) -> None:
        """Every entry added to a page's ``/Annots`` must draw nothing."""
        pages_before = set(page_refs(self.before.root, self.budget))
        for ref, number in self.page_numbers.items():
            now = _entries(get(self.reader.get_object(ref), "/Annots"))
            then = (
                {_identity(e) for e in _entries(get(self.before.get_object(ref), "/Annots"))}
                if ref in pages_before
                else set()
            )
            self.budget.tick(len(now))
            for entry in now:
                if _identity(entry) in then:
                    continue
                obj = entry.get_object() if isinstance(entry, generic.IndirectObject) else entry
                if not draws_nothing(obj):
                    self._name_visible(_identity(entry), obj, number)

    def new_fields(self) -> None:
        """Every widget added to the form's field tree must draw nothing."""
        then = _field_nodes(self.before.root, self.budget)
        for ref, node in _field_nodes(self.reader.root, self.budget).items():
            if ref in then:
                continue  # an old field
            if isinstance(get(node, "/Kids"), generic.ArrayObject):
                # a parent: its widgets are its kids (judged in turn); it may only name them
                if {str(key) for key in node} - _INERT_PARENT_KEYS:
                    self._name_visible(ref, node, None)
                continue
            if not draws_nothing(node):
                self._name_visible(ref, node, None)

    def _new(self, ref: generic.Reference, obj: Any) -> None:
        if _is_annotation(obj) and _draws(obj):
            self._name_visible(ref, obj, None)
        elif isinstance(obj, generic.DictionaryObject) and obj.get("/Type") in (
            "/EmbeddedFile",
            "/Filespec",
        ):
            self.kinds.add("attachments")

    def _catalog(self, new: Any) -> None:
        old = self.before.root
        for key in _changed_keys(old, new) - _CATALOG_ALLOWED - {"/Metadata"}:
            self.kinds.add(_CATALOG_KIND.get(key, f"catalog:{key}"))
        if "/AcroForm" in _changed_keys(old, new):
            old_form, new_form = get(old, "/AcroForm"), get(new, "/AcroForm")
            if not isinstance(new_form, generic.DictionaryObject) or (
                isinstance(old_form, generic.DictionaryObject)
                and (
                    _changed_keys(old_form, new_form) - {"/Fields", "/SigFlags"}
                    or not _list_grew(_raw(old_form, "/Fields"), _raw(new_form, "/Fields"))
                )
            ):
                self.kinds.add("catalog:/AcroForm")

    def _modified(self, ref: generic.Reference, new: Any) -> None:
        old = self.before.get_object(ref)
        typ = new.get("/Type") if isinstance(new, generic.DictionaryObject) else None
        if ref in self.metadata_refs:
            return  # the catalog's XMP: judged by content, with /Info (metadata_diff)
        if typ in ("/EmbeddedFile", "/Filespec") or (
            typ is None and isinstance(new, generic.DictionaryObject) and "/Names" in new
        ):
            self.kinds.add("attachments")
        elif typ == "/Page" and isinstance(old, generic.DictionaryObject):
            if _changed_keys(old, new) - {"/Annots"} or not _list_grew(
                _raw(old, "/Annots"), _raw(new, "/Annots")
            ):
                self.kinds.add("pages")
        elif typ in ("/Pages", "/OCG", "/OCMD"):
            self.kinds.add("pages")
        elif ref == self.dss_ref and isinstance(new, generic.DictionaryObject):
            if not set(new) <= _DSS_KEYS:
                self.kinds.add("objects")  # the DSS dictionary grows with validation data
        else:
            self.kinds.add("objects")

    def sentences(self) -> tuple[str, ...]:
        out = list(self.visible)
        catalog = sorted(k.split(":", 1)[1] for k in self.kinds if k.startswith("catalog:"))
        if catalog:
            out.append(f"изменён каталог документа после подписания ({', '.join(catalog)})")
        out.extend(_SENTENCES[k] for k in sorted(self.kinds) if k in _SENTENCES)
        return tuple(s[0].upper() + s[1:] for s in out)


def unsigned_changes(
    reader: PdfFileReader, signed_revision: int, budget: Budget
) -> tuple[str, ...]:
    """Forbidden changes in the revisions after ``signed_revision`` (the last revision
    covered by a signature), one Russian sentence each; empty if there are none."""
    total = reader.xrefs.total_revisions
    if signed_revision >= total - 1:
        return ()
    tail = _Tail(reader, signed_revision, budget)
    removed = 0
    for revision in range(signed_revision + 1, total):
        refs = reader.xrefs.explicit_refs_in_revision(revision)
        budget.tick(len(refs))
        for ref in sorted(refs, key=lambda r: r.idnum):
            try:
                tail.classify(ref)
            except VerificationBudgetExceeded:
                raise
            except Exception:  # an unreadable object written after signing: forbidden
                tail.kinds.add("objects")
        removed += len(reader.xrefs.refs_freed_in_revision(revision))
    if _raw(tail.before.trailer_view, "/Root") != _raw(reader.trailer_view, "/Root"):
        # pyHanko's DSS and timestamp updates keep the catalog object; a new one would
        # escape every comparison made by object number
        tail.kinds.add("catalog:/Root")
    # compared by path from the two catalogs, whatever objects the update wrote
    if _metadata_differs(tail.before, reader, budget):
        tail.kinds.add("metadata")
    tail.new_annotations()
    tail.new_fields()
    if removed:
        tail.kinds.add("removed")
    return tail.sentences()


def _metadata_differs(before: Any, reader: PdfFileReader, budget: Budget) -> bool:
    try:
        return metadata_differs(before, reader, budget)
    except VerificationBudgetExceeded:
        raise
    except Exception:  # unreadable metadata after an update: treat as changed
        return True


def _field_nodes(root: Any, budget: Budget) -> dict[generic.Reference, Any]:
    """Every indirect node of the form's field tree (loop-safe; budgeted)."""
    form = get(root, "/AcroForm")
    found: dict[generic.Reference, Any] = {}
    stack = list(reversed(_entries(get(form, "/Fields"))))
    while stack:
        budget.tick()
        item = stack.pop()
        if not isinstance(item, generic.IndirectObject) or item.reference in found:
            continue
        node = item.get_object()
        found[item.reference] = node
        stack.extend(reversed(_entries(get(node, "/Kids"))))
    return found
