"""Sample forms signed in the name of their authority (Art. 9.3, issue 12 item 5).

Art. 9.3 has the Parties exchange their sample forms as official samples, so each form is
signed — by the same person who signs the authority's list of signatories (the head, or
whom the registry names: :func:`service.domain.signatory_lists.list_signer`).  The form
states it above its title: version, effective date and the approving person.  The
signature is invisible: the visible block of a form is the placeholder of the signature
the real document will carry.  An authority with nobody to sign gets an unsigned form
that does not claim an approval.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from service.domain import forms
from service.domain.signatory_lists import list_signer
from service.pipeline.letterhead import Parties, seed_parties
from service.pipeline.rendering import FORM_EFFECTIVE_DATE, FORM_VERSION, Renderer, ru_date
from service.pipeline.vocabulary import DOCUMENT_TITLES
from service.store.db import Database
from signing.api import DocumentSigner
from signing.appearance import initials_and_surname
from signing.pades import PadesOptions, sign_pdf
from signing.registry import Registry, Signatory
from signing.timestamps import http_timestamper


def signing_reason(document_type: str) -> str:
    return (
        f"Образец бланка «{DOCUMENT_TITLES[document_type]}», версия {FORM_VERSION}, "
        f"действует с {ru_date(FORM_EFFECTIVE_DATE)} (пункт 3 статьи 9 Соглашения)"
    )


@dataclass(frozen=True)
class FormSigning:
    """Signs forms with the registry and the keys of the service."""

    database: Database
    signer: DocumentSigner

    def _approver(self, authority: str, at: datetime) -> tuple[Parties, Signatory | None]:
        with self.database.reading() as session:
            registry = Registry(session)
            signatory = list_signer(registry, authority, at)
            found = registry.authority_at(authority, at)
        seed = seed_parties(authority, forms.counterpart(authority))
        return Parties(found or seed.sender, seed.recipient), signatory

    def approver_key(self, authority: str) -> str:
        parties, signatory = self._approver(authority, datetime.now(UTC))
        # The certificate's hash too: ids and versions repeat across registries (two
        # instances in one process, a re-created demo), certificates do not.
        who = (
            f"{signatory.signatory_id}/{signatory.version}/"
            f"{hashlib.sha256(signatory.certificate_der).hexdigest()[:16]}"
            if signatory
            else "-"
        )
        return f"{who}@{parties.sender.version}"

    def render_signed(
        self, renderer: Renderer, document_type: str, authority: str
    ) -> forms.SampleForm:
        at = datetime.now(UTC).replace(microsecond=0)
        parties, signatory = self._approver(authority, at)
        approval = None
        if signatory is not None:
            approval = (
                f"{signatory.position_ru} {parties.sender.short_name_ru} "
                f"{initials_and_surname(signatory.full_name_ru)}"
            )
        form = forms.render_form(renderer, document_type, authority, parties, approval)
        if signatory is None:
            return form
        config = self.signer.config
        signed = sign_pdf(
            form.pdf,
            self.signer.keys.signer_for(signatory.key, signatory.certificate_der),
            signer_name=signatory.full_name_ru,
            options=PadesOptions(
                reason=signing_reason(document_type),
                location=config.location,
                visible=False,
                ltv=config.ltv,
            ),
            timestamper=http_timestamper(config.tsa_url, config.tsa_timeout)
            if config.tsa_url
            else None,
            signing_time=at,
        ).pdf
        return forms.SampleForm(
            document_type=document_type,
            authority=authority,
            version=form.version,
            pdf=signed,
            sha256=hashlib.sha256(signed).hexdigest(),
            page_count=form.page_count,
            signatory_id=signatory.signatory_id,
        )
