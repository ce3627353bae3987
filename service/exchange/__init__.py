"""The exchange between the Parties: one node per Party, delivering to its peer node.

``KZ node ── store + outbox row ── worker ══ mTLS ══▶ BY node: verify, number, store``
``         ◀════════════ signed receipt («Уведомление о получении») ═════════════``

Modules: :mod:`.models` (tables), :mod:`.peers` (the registered peer node),
:mod:`.outbox` (the delivery row written with the document), :mod:`.delivery` (the
worker), :mod:`.transport` (mutually authenticated TLS), :mod:`.receiving` (the peer
endpoint's logic), :mod:`.receipts` (signed receipts), :mod:`.inbox` (the recipient's
feed), :mod:`.views` (HTTP), :mod:`.cli` (``migdocs peer …``, ``migdocs worker``).
"""
