"""The officers' page of one document: its data, case and deadline, transfers (with the form
to record one, Art. 11.3), and the outcome of the action that led here."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from service.domain import search
from service.domain.cases import STATUS_TITLES, CaseService
from service.domain.transfers import record_transfer
from service.domain.workplace import allowed_replies, case_view, transfers_of
from service.errors import MigdocsError
from service.web.actions import problem
from service.web.context import services
from service.web.pagekit import LoggedIn, bp, current_officer, officer_required, page
from service.web.principal import client_address

DONE = {
    "signed": "Документ подписан и зарегистрирован.",
    "repeated": "Этот документ уже был подписан ранее — показан зарегистрированный документ.",
    "transfer": "Передача третьей стороне записана.",
}


def document_context(officer: LoggedIn, document_id: str) -> dict[str, Any]:
    row, _ = services().documents.read(document_id, officer.principal, client_address(), "meta")
    database = services().database
    with database.reading() as db:
        case = CaseService(database).case_of(db, row.id, officer.principal)
        transfers = transfers_of(db, row.id, officer.authority)
        summary = case_view(db, case) if case is not None else None
    return {
        "doc": row,
        "case": case,
        "case_view": summary,
        "replies": allowed_replies(summary, officer.authority) if summary else [],
        "status_titles": STATUS_TITLES,
        "transfers": transfers,
        "persons": search.persons_of(database, [row.id]).get(row.id, ""),
        "transfer_error": None,
        "transfer_values": {"third_party": "", "consent": ""},
        "done": DONE.get(request.args.get("done", ""), ""),
    }


@bp.get("/documents/<document_id>")
@officer_required
def document(document_id: str) -> tuple[str, int]:
    return page("document.html", **document_context(current_officer(), document_id))


@bp.post("/documents/<document_id>/transfers")
@officer_required
def transfer_record(document_id: str) -> BaseResponse | tuple[str, int]:
    """Record a transfer to a third party; refused unless a granted consent is on record."""
    officer = current_officer()
    third_party = request.form.get("third_party", "")[:500]
    consent = request.form.get("consent_registration_number", "").strip()[:64]
    try:
        record_transfer(
            services().documents,
            document_id,
            third_party,
            consent,
            officer.principal,
            client_address(),
        )
    except MigdocsError as exc:
        if exc.code == "not_found":
            raise
        context = document_context(officer, document_id)
        context["transfer_error"] = problem(exc)
        context["transfer_values"] = {"third_party": third_party, "consent": consent}
        return page("document.html", 422, **context)
    return redirect(url_for("officers.document", document_id=document_id, done="transfer"))
