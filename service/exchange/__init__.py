"""The exchange between the Parties: one node per Party, delivering to its peer node.

``KZ node ── store + outbox row ── worker ══ mTLS ══▶ BY node: verify, number, store``
``         ◀════════════ signed receipt («Уведомление о получении») ═════════════``

Modules: :mod:`.peers` (the registered peer node), :mod:`.outbox` (the delivery row
written with the document), :mod:`.delivery` (the worker), :mod:`.lists` (this Party's
signatory lists sent to the peer), :mod:`.list_registry` (the peer's lists received and
the registry they make), :mod:`.transport` (mutually authenticated TLS),
:mod:`.receiving` (the peer endpoint's logic), :mod:`.receipts` (signed receipts),
:mod:`.inbox` (the recipient's feed), :mod:`.webhooks` (per API key),
:mod:`.companions` (what ``serve`` starts beside the web server), :mod:`.views` (HTTP),
:mod:`.cli` (``migdocs peer …``, ``migdocs worker``).  Tables: ``service.store.exchange_tables``.
"""
