# mypy: disallow-untyped-calls=False
"""What changed after a signature: a Russian description of later revisions."""

from __future__ import annotations

from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader


def _page_refs(root: Any) -> list[generic.Reference]:
    """Page object references in page order (walks the page tree of one revision)."""
    result: list[generic.Reference] = []

    def walk(node_ref: Any, depth: int) -> None:
        if depth > 64:
            return
        node = node_ref.get_object()
        if node.get("/Type") == "/Pages":
            for kid in node.get("/Kids", ()):
                walk(kid, depth + 1)
        elif isinstance(node_ref, generic.IndirectObject):
            result.append(node_ref.reference)

    walk(root.raw_get("/Pages"), 0)
    return result


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def describe_changes(reader: PdfFileReader, signed_revision: int) -> tuple[str, ...]:
    """What the revisions after ``signed_revision`` changed, in Russian sentences."""
    total = reader.xrefs.total_revisions
    if signed_revision >= total - 1:
        return ()
    try:
        before = reader.get_historical_resolver(signed_revision)
        pages_before = _page_refs(before.root)
        pages_after = _page_refs(reader.root)
        changed: set[generic.Reference] = set()
        for revision in range(signed_revision + 1, total):
            changed |= set(reader.xrefs.explicit_refs_in_revision(revision))
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
    for ref in sorted(changed, key=lambda r: r.idnum):
        if ref in kept or ref in content_of or ref in new_parts or ref in set(pages_after):
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
