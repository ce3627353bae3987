"""Query parameters of the API, declared once: the OpenAPI description and the server's
checks are both derived from the same JSON-Schema declaration, so they cannot disagree.

:func:`read_query` accepts a value only if it satisfies its declared schema — type,
``format`` (``date``, ``date-time``, ``uuid``), bounds, length, ``enum``, ``pattern`` — and
refuses (400) everything else with one violation per problem, each with a stable ``code``:

* ``unknown_parameter`` — a name the route does not declare (never silently ignored);
* ``repeated_parameter`` — the same name twice;
* ``empty_value`` — ``name=`` (no declaration allows an empty value);
* ``not_an_integer``, ``out_of_range``, ``not_a_boolean``, ``not_a_date``,
  ``not_a_date_time``, ``not_a_uuid``, ``not_allowed`` (enum), ``too_long``,
  ``bad_pattern``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from service.errors import InputError, Violation
from service.pipeline.vocabulary import AUTHORITIES
from service.pipeline.xmlinput import ROOT_TO_TYPE

_DIGITS = re.compile(r"[0-9]{1,18}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class Param:
    """One query parameter: its name, JSON Schema and description (all optional)."""

    name: str
    schema: Mapping[str, Any]
    description: str
    default: Any = None

    def openapi(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "in": "query",
            "required": False,
            "description": self.description,
            "schema": dict(self.schema),
        }


@dataclass(frozen=True)
class ParamSet:
    """The query parameters of one route."""

    params: Sequence[Param]
    _by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {p.name: p for p in self.params})

    def openapi(self) -> list[dict[str, Any]]:
        return [p.openapi() for p in self.params]

    def read(self, args: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """Checked values by name (absent → the declared default); :class:`InputError` with
        every problem at once otherwise.  ``args`` maps a name to all its given values."""
        problems: list[Violation] = []
        values: dict[str, Any] = {p.name: p.default for p in self.params}
        for name, given in args.items():
            param = self._by_name.get(name)
            where = f"?{name[:40]}"
            if param is None:
                known = ", ".join(p.name for p in self.params)
                problems.append(
                    Violation(
                        None,
                        where,
                        f"unknown query parameter (this route knows {known})",
                        "unknown_parameter",
                    )
                )
            elif len(given) != 1:
                problems.append(
                    Violation(None, where, "given more than once", "repeated_parameter")
                )
            else:
                try:
                    values[name] = check(param.schema, given[0])
                except _Refused as refused:
                    problems.append(Violation(None, where, refused.message, refused.code))
        if problems:
            names = ", ".join(dict.fromkeys(v.path for v in problems))
            raise InputError(f"query parameters refused: {names}", tuple(problems))
        return values


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _shown(value: str) -> str:
    return repr(value[:40]) + ("…" if len(value) > 40 else "")


def check(schema: Mapping[str, Any], value: str) -> Any:
    """``value`` (a query string value) checked against ``schema`` and converted."""
    if value == "":
        raise _Refused("empty_value", "empty value; leave the parameter out instead")
    kind = schema.get("type")
    if kind == "integer":
        return _integer(schema, value)
    if kind == "boolean":
        if value not in ("true", "false"):
            raise _Refused("not_a_boolean", f"{_shown(value)} is not true or false")
        return value == "true"
    if kind != "string":  # pragma: no cover - a declaration error, caught by the tests
        raise TypeError(f"unsupported parameter type {kind!r}")
    enum = schema.get("enum")
    if enum is not None and value not in enum:
        raise _Refused("not_allowed", f"{_shown(value)} is not one of {', '.join(enum)}")
    if len(value) > schema.get("maxLength", 1_000_000):
        raise _Refused("too_long", f"longer than {schema['maxLength']} characters")
    if len(value) < schema.get("minLength", 0):
        raise _Refused("too_short", f"shorter than {schema['minLength']} characters")
    pattern = schema.get("pattern")
    if pattern is not None and _ecma_search(pattern, value) is None:
        raise _Refused("bad_pattern", f"{_shown(value)} does not match {pattern}")
    match schema.get("format"):
        case "date":
            return _date(value)
        case "date-time":
            return _date_time(value)
        case "uuid":
            if not _UUID.fullmatch(value):
                raise _Refused("not_a_uuid", f"{_shown(value)} is not a UUID")
            return value.lower()
    return value


def _ecma_search(pattern: str, value: str) -> re.Match[str] | None:
    """``pattern`` as JSON Schema means it: a final ``$`` is the end of the string (in
    Python it also matches before a final newline)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.search(pattern, value)


def _integer(schema: Mapping[str, Any], value: str) -> int:
    if not _DIGITS.fullmatch(value):
        raise _Refused("not_an_integer", f"{_shown(value)} is not a number (ASCII digits)")
    number = int(value)
    low, high = schema.get("minimum", 0), schema.get("maximum", 10**18)
    if not low <= number <= high:
        raise _Refused("out_of_range", f"{number} is not from {low} to {high}")
    return number


def _date(value: str) -> date:
    if _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Refused("not_a_date", f"{_shown(value)} is not a date YYYY-MM-DD")


def _date_time(value: str) -> datetime:
    """RFC 3339 ``date-time`` (the JSON-Schema format): a time zone is required."""
    match = _DATE_TIME.fullmatch(value)
    if match is not None:
        fraction = (match["fraction"] or "")[:6]
        offset = "+00:00" if match["offset"] in "Zz" else match["offset"]
        text = f"{match['date']}T{match['time']}{'.' + fraction if fraction else ''}{offset}"
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    raise _Refused(
        "not_a_date_time",
        f"{_shown(value)} is not an RFC 3339 date-time such as 2026-11-20T08:00:00Z",
    )


# ----- the declarations --------------------------------------------------------------------

MAX_PAGE = 1_000_000
MAX_PAGE_SIZE = 500


def paging(default_page_size: int) -> tuple[Param, Param]:
    return (
        Param(
            "page",
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
            "Page number, from 1",
            1,
        ),
        Param(
            "page_size",
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            "Items per page (default: the setting `page_size`)",
            default_page_size,
        ),
    )


DOCUMENT_TYPES = tuple(ROOT_TO_TYPE.values())
DIRECTIONS = ("incoming", "outgoing")
DELIVERY_STATES = ("pending", "delivered", "refused", "failed", "received")


def document_filters() -> tuple[Param, ...]:
    return (
        Param("type", {"type": "string", "enum": list(DOCUMENT_TYPES)}, "Document type"),
        Param(
            "counterpart",
            {"type": "string", "enum": sorted(AUTHORITIES)},
            "The other authority (sender or recipient)",
        ),
        Param("date_from", {"type": "string", "format": "date"}, "Document date on or after"),
        Param("date_to", {"type": "string", "format": "date"}, "Document date on or before"),
        Param(
            "q",
            {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9-]+$"},
            "Part of the registration number (letters, digits, `-`; case ignored)",
        ),
        Param(
            "document_id",
            {"type": "string", "format": "uuid"},
            "The upstream system's documentId (header/documentId of the XML)",
        ),
        Param(
            "direction",
            {"type": "string", "enum": list(DIRECTIONS)},
            "Relative to the caller's authority: `outgoing` = sent by it, `incoming` = "
            "addressed to it",
        ),
        Param(
            "status",
            {"type": "string", "enum": list(DELIVERY_STATES)},
            "Exchange with the peer node: delivery state of an outgoing document "
            "(`pending`, `delivered`, `refused`, `failed`) or `received` from the peer. "
            "Documents not exchanged with a peer node (single-node mode) have none.",
        ),
        Param(
            "since",
            {"type": "string", "format": "date-time"},
            "Stored in this service at or after this instant (RFC 3339, with time zone)",
        ),
    )


def case_filters(statuses: Sequence[str]) -> tuple[Param, ...]:
    return (
        Param("status", {"type": "string", "enum": list(statuses)}, "Case status"),
        Param("overdue", {"type": "boolean"}, "Only overdue (`true`) or only not (`false`)"),
        Param("due_soon", {"type": "boolean"}, "Only due soon (`true`) or only not (`false`)"),
    )


# ----- JSON bodies -------------------------------------------------------------------------


def non_blank(max_length: int) -> dict[str, Any]:
    """A string with something besides white space (and no NUL, which no database keeps)."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": r"^[^\x00]*\S[^\x00]*$",
    }


def read_json_object(schema: Mapping[str, Any], body: object) -> dict[str, Any]:
    """``body`` checked against an object ``schema`` of string properties (required ones,
    no others); :class:`InputError` with one violation per problem."""
    properties: Mapping[str, Mapping[str, Any]] = schema["properties"]
    if not isinstance(body, dict):
        names = ", ".join(properties)
        raise InputError(
            f"send a JSON object {{{names}}}",
            (Violation(None, "/", "not a JSON object", "not_an_object"),),
        )
    problems = [
        Violation(None, f"/{name}", "required", "missing")
        for name in schema.get("required", ())
        if name not in body
    ]
    problems += [
        Violation(None, f"/{str(name)[:40]}", "unknown property", "unknown_property")
        for name in body
        if name not in properties
    ]
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name not in properties:
            continue
        if not isinstance(value, str):
            problems.append(Violation(None, f"/{name}", "not a string", "not_a_string"))
            continue
        try:
            values[name] = check(properties[name], value)
        except _Refused as refused:
            problems.append(Violation(None, f"/{name}", refused.message, refused.code))
    if problems:
        raise InputError(
            "the JSON body does not match its schema: "
            + ", ".join(dict.fromkeys(v.path for v in problems)),
            tuple(problems),
        )
    return values
