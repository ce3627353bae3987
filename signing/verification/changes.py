# mypy: disallow-untyped-calls=False
"""What changed after a signature: a Russian description of later revisions, and the
diff policy for the unsigned tail of the file.

pyHanko's diff policy judges the revisions between signatures.  The revisions after the
last covering signature are signed by nobody, so :func:`unsigned_changes` is stricter
than pyHanko there: only validation data (DSS) may be added.  Anything a viewer would
show or a verifier would read — an annotation or widget with an appearance, a page, a
content stream, an XObject, an optional-content group, the XMP or ``/Info`` metadata,
the catalog, the attachments — is a forbidden change, however pyHanko classes it.
"""

from __future__ import annotations

from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from ..errors import VerificationBudgetExceeded
from .facts import _read_xmp
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
        self.metadata_touched = False
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
        elif ref == self.info_ref:
            self.metadata_touched = True
        else:
            self._modified(ref, obj)

    def _new(self, ref: generic.Reference, obj: Any) -> None:
        if _is_annotation(obj) and _draws(obj):
            subtype = str(obj.get("/Subtype", "?")).lstrip("/")
            page = obj.raw_get("/P") if "/P" in obj else None
            number = (
                self.page_numbers.get(page.reference)
                if isinstance(page, generic.IndirectObject)
                else None
            )
            where = f"на страницу № {number}" if number else "на страницу"
            kind = "поле подписи" if obj.get("/FT") == "/Sig" else f"аннотация {subtype}"
            self.visible.append(
                f"после подписания {where} добавлен видимый элемент ({kind}) с "
                "собственным изображением, не охваченный подписью"
            )
        elif isinstance(obj, generic.DictionaryObject) and obj.get("/Type") in (
            "/EmbeddedFile",
            "/Filespec",
        ):
            self.kinds.add("attachments")

    def _catalog(self, new: Any) -> None:
        old = self.before.root
        for key in _changed_keys(old, new) - _CATALOG_ALLOWED:
            if key == "/Metadata":
                self.metadata_touched = True
            else:
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
        if typ == "/Metadata":
            self.metadata_touched = True
        elif typ in ("/EmbeddedFile", "/Filespec") or (
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
        elif isinstance(new, generic.DictionaryObject) and set(new) <= _DSS_KEYS:
            return  # the DSS dictionary itself grows with validation data
        else:
            self.kinds.add("objects")

    def sentences(self) -> tuple[str, ...]:
        out = list(self.visible)
        catalog = sorted(k.split(":", 1)[1] for k in self.kinds if k.startswith("catalog:"))
        if catalog:
            out.append(f"изменён каталог документа после подписания ({', '.join(catalog)})")
        out.extend(_SENTENCES[k] for k in sorted(self.kinds) if k in _SENTENCES)
        return tuple(s[0].upper() + s[1:] for s in out)


_BOOKKEEPING = {"/ModDate", "/Producer"}
"""Info entries every writer refreshes (a DSS update by the service changes them)."""


def _info_facts(handler: Any) -> dict[str, Any]:
    info = get(handler.trailer_view, "/Info")
    if not isinstance(info, generic.DictionaryObject):
        return {}
    return {str(k): info[k] for k in info if str(k) not in _BOOKKEEPING}


def _metadata_facts_differ(before: Any, reader: PdfFileReader, budget: Budget) -> bool:
    """The XMP facts we report (identifier, types, PDF/A) or the Info entries other than
    the modification date and producer differ: a validation-data update refreshes only
    those, an attacker changes the rest."""
    try:
        if _read_xmp(before.root, budget) != _read_xmp(reader.root, budget):
            return True
        return bool(_info_facts(before) != _info_facts(reader))
    except VerificationBudgetExceeded:
        raise
    except Exception:  # unreadable metadata after an update: treat as changed
        return True


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
    if _raw(tail.before.trailer_view, "/Info") != _raw(reader.trailer_view, "/Info"):
        tail.metadata_touched = True
    if tail.metadata_touched and _metadata_facts_differ(tail.before, reader, budget):
        tail.kinds.add("metadata")
    if removed:
        tail.kinds.add("removed")
    return tail.sentences()
