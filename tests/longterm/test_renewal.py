"""``migdocs timestamps renew``: a document outlives its TSA certificate (issue 14)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from service.cli.main import main
from service.store.tables import AuditEntry, StoredDocument, TimestampRenewal
from signing.archive import timestamps_in
from signing.demo import issue_tsa
from signing.verification import Indication
from tests.longterm.conftest import Node, start_node
from tests.signing import pdfcheck


@pytest.fixture(scope="module")
def lta_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    yield from start_node(tmp_path_factory.mktemp("node-renewal"), "B-LTA")


def renew(node: Node, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["timestamps", "renew", *args], env=node.env())
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_renewal_extends_a_document_past_its_tsa_certificate(lta_node: Node) -> None:
    node = lta_node
    services = f"{node.base}/demo-pki"
    issue_tsa(node.instance, services, days=30)  # a TSA whose certificate ends soon
    body = node.post()
    before = node.pdf(body)
    [first] = node.verify(before).signatures
    assert first.level == "B-LTA"
    tsa_end = first.proofs_of_existence[-1].tsa_not_after
    assert tsa_end is not None
    later = first.signer.not_after + timedelta(days=30)  # signer and TSA both expired
    assert later > tsa_end

    report = node.verify(before, now=later)
    assert report.indication is Indication.INDETERMINATE
    assert report.signatures[0].level == "B-B"  # no timestamp proves anything any more

    assert renew(node, "--before", "10") == (0, "renewed 0, failed 0, skipped 0\n")  # not due

    issue_tsa(node.instance, services)  # the successor TSA (10 years)
    code, output = renew(node, "--before", "60")
    assert code == 0, output
    assert f"{body['registration_number']}: renewed" in output
    assert "renewed 1, failed 0" in output
    code, output = renew(node, "--before", "60")  # idempotent: nothing due any more
    assert (code, output) == (0, "renewed 0, failed 0, skipped 0\n")

    # a horizon beyond the TSA's own certificate: stamping would extend nothing
    code, output = renew(node, "--before", "4000")
    assert code == 1 and "renewing now would extend nothing" in output

    after = node.pdf(body)
    assert after[: len(before)] == before  # an incremental update: earlier bytes untouched
    assert [t.kind for t in timestamps_in(after)] == ["signature", "document", "document"]
    report = node.verify(after, now=later)
    [sig] = report.signatures
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_PASSED, None)
    assert sig.level == "B-LTA"
    assert [p.kind for p in sig.proofs_of_existence] == ["signature", "document", "document"]
    assert all(p.status.value == "PASSED" for p in sig.proofs_of_existence)
    assert {c.code: c.status.value for c in sig.checks}["integrity"] == "PASSED"
    # still PDF/A-3u, PDF 1.7, metadata in agreement
    assert report.pdfa == "PDF/A-3U"
    assert pdfcheck.xmp_pdfaid(after) == ("3", "U")
    assert pdfcheck.xmp_producer(after) == pdfcheck.info_producer(after)
    root = pdfcheck.reader(after).root
    assert "/Version" not in root or str(root["/Version"]) == "/1.7"
    # both copies are the service's document; the renewal is recorded and audited
    assert node.verify(before).known is not None
    assert node.verify(after).known is not None
    database = node.services.database
    with database.reading() as db:
        row = db.execute(select(StoredDocument).where(StoredDocument.id == body["id"])).scalar_one()
        [renewal] = db.execute(select(TimestampRenewal)).scalars().all()
        audits = (
            db.execute(select(AuditEntry).where(AuditEntry.action == "timestamp.renew"))
            .scalars()
            .all()
        )
    assert renewal.document_id == row.id and renewal.new_sha256 == row.pdf_sha256
    assert [a.target for a in audits] == [body["registration_number"]]
    assert json.loads(audits[0].details)["new_sha256"] == row.pdf_sha256


def test_renew_without_a_tsa_changes_nothing(lta_node: Node, tmp_path: Path) -> None:
    env = {**lta_node.env(), "MIGDOCS_DEMO_PKI": "false", "MIGDOCS_TSA_URL": ""}
    result = CliRunner().invoke(main, ["timestamps", "renew"], env=env)
    assert result.exit_code == 1
    assert "tsa_url" in result.output
