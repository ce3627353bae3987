"""«Перечень лиц, уполномоченных на подписание запросов» (Art. 9.3, 9.4): signed PDF/A per
authority, a new version on every registry change, old versions kept byte for byte."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from service.cli.main import main
from service.domain.signatory_lists import SignatoryList
from signing.registry import Authorisation, NewSignatory, Registry, Requisites
from tests import pdfinspect
from tests.service.conftest import Env

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"
AUTHORITIES = ["BY-GPK", "BY-MVD", "KZ-MTSZN", "KZ-MVD"]
DEMO_NAMES = {
    "KZ-MVD": ("Ахметов Ержан Серикович", "Akhmetov Yerzhan"),
    "KZ-MTSZN": ("Садыкова Айгуль Маратовна", "Sadykova Aigul"),
    "BY-MVD": ("Ковалёв Андрей Николаевич", "Kovalev Andrei"),
    "BY-GPK": ("Лукашевич Сергей Иванович", "Lukashevich Siarhei"),
}


def pdfsig(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "list.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdfsig", str(path)], capture_output=True, check=False)
    return result.stdout.decode("utf-8", errors="replace")


def lists(env: Env) -> dict[tuple[str, int], dict]:  # type: ignore[type-arg]
    response = env.client.get("/api/v1/signatories")
    assert response.status_code == 200
    return {(item["authority"], item["version"]): item for item in response.json["lists"]}


def download(env: Env, item: dict) -> bytes:  # type: ignore[type-arg]
    response = env.client.get(item["href"])
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "immutable" in response.headers["Cache-Control"]
    assert hashlib.sha256(response.data).hexdigest() == item["sha256"]
    return response.data


def test_every_authority_gets_a_signed_pdfa_list(env: Env, tmp_path: Path) -> None:
    response = env.client.get("/api/v1/signatories")
    body = response.json
    # the registry export is still there …
    assert {a["code"] for a in body["authorities"]} == set(AUTHORITIES)
    assert {s["signatory_id"] for s in body["signatories"]} >= {f"{a}-001" for a in AUTHORITIES}
    # … plus one list version per authority
    found = {(i["authority"], i["version"]): i for i in body["lists"]}
    assert sorted(found) == [(a, 1) for a in AUTHORITIES]
    for authority in AUTHORITIES:
        item = found[(authority, 1)]
        assert item["current"] is True
        # signed by the head of the authority (Art. 9.3), not by an officer it authorises
        assert item["signed_by"]["id"] == f"{authority}-HEAD"
        assert item["href"] == f"/api/v1/signatories/{authority}/v1.pdf"
        pdf = download(env, item)
        report = pdfsig(pdf, tmp_path)
        assert "Signature is Valid" in report, report
        assert "Total document signed" in report, report
        text = " ".join(pdfinspect.text(pdf, tmp_path).split())
        assert "Перечень".upper() in text.upper()
        assert "лиц, уполномоченных на подписание запросов" in text
        name_ru, name_latin = DEMO_NAMES[authority]
        assert name_ru in text and name_latin in text
        # role, authorising act and contacts of every entry; requisites in the letterhead
        assert "Роль руководитель" in text
        assert "Основание полномочий указ № " in text and "Основание полномочий приказ № " in text
        assert text.count("Контакты тел. +") >= 2
        assert "demo." in text and "(электронная подпись)" in text
        assert "Документ подписан электронной подписью".upper() in text.upper()
        root = pdfinspect.xmp(pdf)
        ident = [d for d in root.iter(f"{RDF}Description") if d.get(f"{PDFAID}part")]
        assert [(d.get(f"{PDFAID}part"), d.get(f"{PDFAID}conformance")) for d in ident] == [
            ("3", "U")
        ]
        catalog = pdfinspect.reader(pdf).trailer["/Root"]
        assert catalog.get("/Version") in (None, "/1.7")
        sources = [f for f in pdfinspect.associated_files(pdf) if f["relationship"] == "/Source"]
        assert len(sources) == 1
        snapshot = json.loads(sources[0]["data"])  # type: ignore[arg-type]
        assert snapshot["authority"] == authority
    # nothing changed: no new version
    assert sorted(lists(env)) == [(a, 1) for a in AUTHORITIES]


def test_revocation_makes_version_2_and_keeps_version_1(env: Env, tmp_path: Path) -> None:
    before = lists(env)[("KZ-MVD", 1)]
    v1 = download(env, before)
    with env.services.database.transaction() as session:
        Registry(session).revoke_signatory("KZ-MVD-001", reason="перевод на другую должность")
        Registry(session).revoke_signatory("KZ-MVD-HEAD", reason="освобождён от должности")
    after = lists(env)
    assert sorted(k for k in after if k[0] == "KZ-MVD") == [("KZ-MVD", 1), ("KZ-MVD", 2)]
    assert after[("KZ-MVD", 1)]["sha256"] == before["sha256"]
    assert after[("KZ-MVD", 1)]["current"] is False
    assert after[("KZ-MVD", 2)]["current"] is True
    assert download(env, after[("KZ-MVD", 1)]) == v1
    # nobody of KZ-MVD is authorised any more: the list says so and is not signed
    v2 = download(env, after[("KZ-MVD", 2)])
    assert after[("KZ-MVD", 2)]["signed_by"] is None
    text = " ".join(pdfinspect.text(v2, tmp_path).split())
    assert "Уполномоченных лиц нет" in text
    assert "Перечень не подписан" in text
    assert "полномочия отозваны с" in text and "Ахметов Ержан Серикович" in text
    assert "заменяет версию 1" in text
    # the other authorities did not change
    assert [k for k in after if k[0] != "KZ-MVD"] == [(a, 1) for a in AUTHORITIES if a != "KZ-MVD"]
    with env.services.database.reading() as session:
        rows = session.execute(select(SignatoryList.version)).scalars().all()
    assert sorted(rows) == [1, 1, 1, 1, 2]


def test_signed_by_the_head_or_by_the_person_the_registry_names(
    sqlite_env: Env, tmp_path: Path
) -> None:
    env = sqlite_env
    lists(env)
    with env.services.database.transaction() as session:
        registry = Registry(session)
        first = registry.signatory_versions("BY-MVD-001")[-1]
        registry.add_signatory(
            NewSignatory(
                signatory_id="BY-MVD-002",
                authority_code="BY-MVD",
                full_name_ru="Петрова Ольга Викторовна",
                full_name_latin="Petrova Volha",
                position_ru="Заместитель начальника Департамента",
                certificate_der=first.certificate_der,
                key=first.key,
                document_types=("request", "response"),
                valid_from=first.window.valid_from,
                authorisation=Authorisation(
                    "coordinator", "приказ № 77 от 02.12.2026", "+375 17 218-51-99", None
                ),
            )
        )
    found = lists(env)
    # a new officer on the list does not sign it: the head does
    assert found[("BY-MVD", 2)]["signed_by"]["id"] == "BY-MVD-HEAD"
    text = " ".join(pdfinspect.text(download(env, found[("BY-MVD", 2)]), tmp_path).split())
    assert "Петрова Ольга Викторовна" in text and "Petrova Volha" in text
    assert "Роль координатор Основание полномочий приказ № 77 от 02.12.2026" in text
    assert "Контакты тел. +375 17 218-51-99" in text
    with env.services.database.transaction() as session:
        Registry(session).revoke_signatory("BY-MVD-HEAD")
    # no head and nobody named: an officer on the list never signs it
    item = lists(env)[("BY-MVD", 3)]
    assert item["signed_by"] is None
    text = " ".join(pdfinspect.text(download(env, item), tmp_path).split())
    assert "Перечень не подписан" in text
    with env.services.database.transaction() as session:
        registry = Registry(session)
        old = registry.authority_versions("BY-MVD")[-1]
        registry.add_authority(
            "BY-MVD",
            "BY",
            old.name_ru,
            old.short_name_ru,
            old.window.valid_from,
            requisites=Requisites(
                old.requisites.name_state,
                old.requisites.address_ru,
                old.requisites.phone,
                old.requisites.email,
                list_signatory_id="BY-MVD-002",
            ),
        )
    item = lists(env)[("BY-MVD", 4)]
    assert item["signed_by"] == {"id": "BY-MVD-002", "name": "Петрова Ольга Викторовна"}
    pdf = download(env, item)
    assert "Signature is Valid" in pdfsig(pdf, tmp_path)
    text = " ".join(pdfinspect.text(pdf, tmp_path).split())
    assert "Лица, полномочия которых прекращены" in text
    assert "Заместитель начальника Департамента МВД РБ (электронная подпись) О.В. Петрова" in text


def test_registry_cli_change_is_picked_up(sqlite_env: Env) -> None:
    env = sqlite_env
    assert ("BY-GPK", 2) not in lists(env)
    result = CliRunner().invoke(
        main,
        ["registry", "revoke", "BY-GPK-001", "--reason", "тест"],
        env={
            "MIGDOCS_INSTANCE": str(env.instance),
            "DATABASE_URL": env.services.settings.database_url,
        },
    )
    assert result.exit_code == 0, result.output
    assert ("BY-GPK", 2) in lists(env)


def test_unknown_list_version_is_404(sqlite_env: Env) -> None:
    lists(sqlite_env)
    for url in (
        "/api/v1/signatories/KZ-MVD/v9.pdf",
        "/api/v1/signatories/KZ-MVD/vX.pdf",
        "/api/v1/signatories/RU-MVD/v1.pdf",
    ):
        response = sqlite_env.client.get(url)
        assert response.status_code == 404, url
        assert response.json["error"] == "not_found"


def test_signatories_page_in_russian(sqlite_env: Env) -> None:
    response = sqlite_env.client.get("/signatories")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert "Перечень лиц, уполномоченных на подписание запросов" in page
    for authority, (name_ru, name_latin) in DEMO_NAMES.items():
        assert f'id="authority-{authority}"' in page
        assert name_ru in page and name_latin in page
        assert f"/api/v1/signatories/{authority}/v1.pdf" in page
    assert "Версии перечня" in page
    assert "руководитель" in page and "указ № 101 от 01.10.2019" in page
    assert "тел. +7 7172 72-15-01" in page
