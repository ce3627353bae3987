"""Dictionaries that give one key twice: a parser differential.

pyHanko keeps the *first* value of a repeated key (and logs a warning), pdf.js the
*last*; so an unsigned update can write ``/Producer (genuine) /Producer (forged)`` or a
page with two ``/Contents`` and the verifier compares one value while the viewer shows the
other.  pyHanko's parser does not say so other than in its log, so :func:`duplicate_keys`
listens there, for the verification running in this context only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_MESSAGE = "Multiple definitions in dictionary"
_PARSER_LOGGER = "pyhanko.pdf_utils.generic"
"""The logger of pyHanko's object parser (``generic.DictionaryObject.read_from_stream``)."""

_found: ContextVar[list[str] | None] = ContextVar("migdocs_duplicate_keys", default=None)


class _DuplicateKeys(logging.Filter):
    """Takes the parser's duplicate-key warnings of a verification that is listening."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = _found.get()
        if found is None or not str(record.msg).startswith(_MESSAGE):
            return True
        found.append(record.getMessage())
        return False  # reported in the verification, not in the log


def _listen() -> None:
    logger = logging.getLogger(_PARSER_LOGGER)
    logger.addFilter(_DuplicateKeys())
    # The warning must reach the filter even where the operator quietens pyHanko's
    # loggers (``pyhanko`` at ERROR): this logger's own level decides.
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)


_listen()


@contextmanager
def duplicate_keys() -> Iterator[list[str]]:
    """The duplicate-key warnings of every object parsed in this context until it ends."""
    found: list[str] = []
    token = _found.set(found)
    try:
        yield found
    finally:
        _found.reset(token)


SENTENCE = (
    "В файле есть словари PDF с повторяющимися ключами: программы просмотра читают такой "
    "файл по-разному, и показанное может отличаться от проверенного"
)
