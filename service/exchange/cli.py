"""``migdocs peer add|list|remove|listen`` and ``migdocs worker`` (attach with :func:`register`)."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask

if TYPE_CHECKING:
    from service.config import Settings
    from service.domain.render_jobs import RenderJobs
    from service.store.db import Database
    from service.store.storage import Storage

from service.errors import MigdocsError
from service.exchange import peers
from service.exchange.delivery import DeliveryWorker


def _read(path: str, what: str) -> str:
    try:
        return Path(path).read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {what} {path}: {exc}") from None


@click.group("peer")
def peer_group() -> None:
    """The other Party's node: registration and the mTLS peer listener."""


@peer_group.command("add")
@click.option("--party", required=True, type=click.Choice(peers.PARTIES), help="Its Party.")
@click.option("--url", required=True, help="Base URL of its peer listener (https://…).")
@click.option(
    "--trust-root",
    "trust_roots",
    required=True,
    multiple=True,
    metavar="PEM",
    help="Root certificate(s) of its Party (repeat for several).",
)
@click.option("--node-cert", required=True, metavar="PEM", help="Its node's certificate.")
def peer_add(party: str, url: str, trust_roots: tuple[str, ...], node_cert: str) -> None:
    """Register (or replace) the peer node of PARTY."""
    from service.cli.common import audited_change

    roots = "".join(_read(p, "trust root") for p in trust_roots)
    node = _read(node_cert, "node certificate")
    with audited_change("peer.add", party, "peer", url=url) as change:
        row = peers.add_peer(change.session, party, url, roots, node)
        summary = peers.info(row)
    click.echo(f"peer {party} at {summary.url}: node {summary.node_subject}")
    click.echo(f"  node certificate SHA-256 {summary.node_cert_sha256}")


@peer_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def peer_list(as_json: bool) -> None:
    """List the registered peer nodes."""
    from service.cli.common import configured_database

    with configured_database() as database, database.reading() as session:
        found = [peers.info(row) for row in peers.list_peers(session)]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "party": p.party,
                        "url": p.url,
                        "node_subject": p.node_subject,
                        "node_cert_sha256": p.node_cert_sha256,
                        "trust_roots": list(p.trust_roots),
                        "added_at": p.added_at.isoformat(),
                    }
                    for p in found
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for p in found:
        click.echo(f"{p.party}  {p.url}  {p.node_subject}  sha256:{p.node_cert_sha256[:16]}…")


@peer_group.command("remove")
@click.argument("party", type=click.Choice(peers.PARTIES))
def peer_remove(party: str) -> None:
    """Forget the peer node of PARTY (deliveries to it wait until one is added again)."""
    from service.cli.common import audited_change

    with audited_change("peer.remove", party, "peer") as change:
        peers.remove_peer(change.session, party)
    click.echo(f"peer {party} removed")


@peer_group.command("identity")
@click.option("--renew", is_flag=True, help="Issue new ones even if they exist.")
def peer_identity(renew: bool) -> None:
    """Issue this node's demo TLS certificate and receipt seal (from its Party's demo root
    in <instance>/pki; production nodes get them from their Party's PKI)."""
    from service.cli.common import fail
    from service.config import load_settings
    from service.exchange.nodecert import issue_node_identity

    settings = load_settings()
    if settings.party is None:
        raise click.UsageError("set party (KZ or BY) first")
    pki = settings.instance_dir / "pki"
    name = f"node-{settings.party.lower()}"
    cert, key, seal = pki / f"{name}.pem", pki / f"{name}.key.pem", pki / f"{name}-seal.p12"
    if renew or not all(p.is_file() for p in (cert, key, seal)):
        try:
            issue_node_identity(settings.instance_dir, settings.party)
        except MigdocsError as exc:
            fail(exc, "peer identity")
        click.echo(f"issued the node identity of {settings.party}:")
    click.echo(f"  node_cert    = {cert}\n  node_key     = {key}\n  seal_pkcs12  = {seal}")
    click.echo(f"  trust root   = {pki / (settings.party.lower() + '-root.pem')}")


@peer_group.command("listen")
@click.option("--bind", default=None, help="host:port; default: the peer_bind setting.")
@click.option("--with-worker", is_flag=True, help="Run a delivery worker thread too.")
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="With no peer registered yet, wait for `migdocs peer add` instead of failing.",
)
def peer_listen(bind: str | None, with_worker: bool, wait: bool) -> None:
    """Serve the peer endpoint over mutually authenticated TLS (node certificate).

    The client certificates accepted are those of the peers registered at start: after
    `migdocs peer add` replaces a peer's trust roots, restart the listener."""
    from service.app import create_app
    from service.cli.common import fail
    from service.exchange.transport import make_peer_server, server_context

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        app = create_app()
        s = app.extensions["migdocs"]
        address = bind or s.settings.peer_bind
        if not address:
            raise click.UsageError("give --bind or set peer_bind")
        roots = _peer_roots(app, wait, stop)
        if roots is None:
            return
        context = server_context(s.settings.node_cert, s.settings.node_key, roots)
        server = make_peer_server(app, address, context)
    except MigdocsError as exc:
        fail(exc, "peer listen")
    if with_worker:
        worker = _worker(app)
        threading.Thread(target=worker.run_forever, args=(stop,), daemon=True).start()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    click.echo(f"peer listener on https://{address} (mTLS)")
    while not stop.wait(1.0):  # SIGTERM / SIGINT (``shutdown`` in a handler would hang)
        pass
    server.shutdown()
    serving.join(30)


def _peer_roots(app: Flask, wait: bool, stop: threading.Event) -> str | None:
    """The registered peers' trust roots (PEM); with ``wait``, poll until there are some
    (``None`` if stopped meanwhile)."""
    database = app.extensions["migdocs"].database
    told = False
    while True:
        with database.reading() as session:
            roots = "".join(p.trust_roots_pem for p in peers.list_peers(session))
        if roots or not wait:
            return roots
        if not told:
            click.echo("peer listener: no peer registered yet; waiting for `migdocs peer add`")
            told = True
        if stop.wait(2.0):
            return None


def _worker(app: Flask) -> DeliveryWorker:
    s = app.extensions["migdocs"]
    return DeliveryWorker(s.settings, s.database, s.storage)


@click.command("worker")
@click.option("--once", is_flag=True, help="Process what is due now, then exit.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between polls when idle.")
def worker_command(once: bool, poll: float) -> None:
    """Deliver outbox rows to the peer node and render queued documents (run one or many)."""
    from service.config import load_settings
    from service.domain.render_jobs import JobKind, poll_forever
    from service.store.blobs import open_storage
    from service.store.db import Database

    settings = load_settings()
    database = Database(settings.database_url)
    assert settings.storage_dir is not None
    storage = open_storage(settings.storage_backend, settings.storage_dir, database)
    # The job kinds this worker polls in turn (issue 15 added render jobs).
    kinds: dict[str, JobKind] = {}
    if settings.party is not None:  # a single node delivers nothing
        kinds["delivery attempt(s)"] = DeliveryWorker(settings, database, storage)
    kinds["render job(s)"] = _render_jobs(settings, database, storage)
    try:
        if once:
            for label, kind in kinds.items():
                click.echo(f"{kind.run_once()} {label}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        poll_forever(list(kinds.values()), stop, poll)
    finally:
        database.dispose()


def _render_jobs(settings: Settings, database: Database, storage: Storage) -> RenderJobs:
    from service.app import document_service, status_for
    from service.domain.render_jobs import RenderJobs

    return RenderJobs(document_service(settings, database, storage), status_for)


def register(group: click.Group) -> None:
    """Attach ``peer`` and ``worker`` to the ``migdocs`` command group."""
    group.add_command(peer_group)
    group.add_command(worker_command)
