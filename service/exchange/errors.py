"""Errors of the exchange, in the service's hierarchy (mapped to HTTP by ``service.app``)."""

from __future__ import annotations

from service.errors import Forbidden, InconsistentDocument, InputError, MigdocsError


class PeerInvalid(InputError):
    """A peer registration that cannot be accepted (bad URL, PEM, party)."""

    code = "peer_invalid"


class PeerUnknown(Forbidden):
    """The caller is not the registered peer node (no or unknown client certificate)."""

    code = "peer_unknown"


class ExchangeUnavailable(MigdocsError):
    """This node is not set up for the exchange (no party, no node certificate, no peer)."""

    code = "exchange_unavailable"


class DeliveryFailed(MigdocsError):
    """One delivery attempt failed (network, TLS, peer error, bad receipt); retried."""

    code = "delivery_failed"


class ReceiptInvalid(DeliveryFailed):
    """The peer's answer is not a receipt we can accept as evidence."""

    code = "receipt_invalid"


class ListRefused(InconsistentDocument):
    """A signatory list from the peer that cannot be accepted (signature, content)."""

    code = "list_refused"


class FormRefused(InconsistentDocument):
    """A sample form from the peer that cannot be accepted (signature, signer, content)."""

    code = "form_refused"
