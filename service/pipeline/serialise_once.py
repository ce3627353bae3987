"""Write WeasyPrint's PDF with each object serialised (and compressed) once, not twice.

pydyf computes the trailer's ``/ID`` (which PDF/A requires) as the MD5 of every object's
serialisation *after* it has written them, and it serialises each object again to do so:
every content stream and font subset is deflated twice, and the object stream of all
dictionaries twice more.  That is about 4 % of a 1-page render.  Objects are finished
before the file is written (WeasyPrint's finisher has run), so their serialisation can be
kept from the first use; the bytes of the file do not change.
"""

from __future__ import annotations

from typing import Any

import pydyf

_SERIALISED = "_migdocs_serialised"
_KEEPS = "_migdocs_keeps_serialisation"

_KEPT_CLASS: dict[type, type] = {}
"""pydyf class → its subclass that keeps ``data``."""


def _kept_class(cls: type) -> type:
    """``cls`` whose ``data`` is computed once per object and then kept."""
    if cls in _KEPT_CLASS:
        return _KEPT_CLASS[cls]
    compute = cls.data.fget  # type: ignore[attr-defined]

    def data(self: Any) -> bytes:
        kept: bytes | None = self.__dict__.get(_SERIALISED)
        if kept is None:
            kept = self.__dict__[_SERIALISED] = compute(self)
        return kept

    namespace = {"data": property(data), _KEEPS: True, "__module__": cls.__module__}
    kept_class = type(cls.__name__, (cls,), namespace)
    _KEPT_CLASS[cls] = kept_class
    return kept_class


def _keep(obj: Any) -> None:
    if isinstance(obj, pydyf.Object) and not getattr(obj, _KEEPS, False):
        obj.__class__ = _kept_class(type(obj))


class SerialiseOnce(pydyf.PDF):  # type: ignore[misc]
    """A finished :class:`pydyf.PDF` whose :meth:`write` serialises each object once.

    Install with ``pdf.__class__ = SerialiseOnce`` once nothing will change the objects
    any more (the end of WeasyPrint's finisher)."""

    def add_object(self, pdf_object: Any) -> None:  # the object and xref streams of write()
        super().add_object(pdf_object)
        _keep(pdf_object)

    def write(self, *args: Any, **kwargs: Any) -> Any:
        for pdf_object in self.objects:
            _keep(pdf_object)
        return super().write(*args, **kwargs)
