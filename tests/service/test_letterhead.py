"""The letterhead comes from the versioned registry (issue 12, item 1).

Real service, real registry, real signing: a document names its sender with the registry
version in force when it is registered; renaming the authority in the registry shows in
the next document, and the earlier one keeps the old name, byte for byte.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from service.paths import SAMPLES_DIR
from signing.registry import Registry, Requisites
from tests import pdfinspect
from tests.service.conftest import Env
from tests.service.test_api import with_new_id

REQUEST = (SAMPLES_DIR / "request-photo.xml").read_bytes()
NEW_NAME = "Министерство внутренних дел и миграции Республики Казахстан"
NEW_ADDRESS = "010010, Республика Казахстан, г. Астана, улица Бейбітшілік, 10"


def _flat(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _pdf_text(env: Env, body: dict[str, object], tmp_path: Path) -> str:
    links = body["links"]
    assert isinstance(links, dict)
    pdf = env.client.get(links["pdf"], headers={"X-API-Key": env.keys["KZ-MVD"]}).data
    return pdfinspect.text(pdf, tmp_path)


def test_renamed_authority_reaches_the_next_document(env: Env, tmp_path: Path) -> None:
    first = env.post_xml(REQUEST)
    assert first.status_code == 201, first.json
    before = _flat(_pdf_text(env, first.json, tmp_path))
    # the demo registry's requisites, not the static vocabulary
    assert _flat("010000, Республика Казахстан, г. Астана, проспект Тәуелсіздік, 1") in before
    assert _flat("тел. +7 7172 72-10-00, e-mail: mvd@mvd.demo.kz") in before
    assert _flat("Қазақстан Республикасының Ішкі істер министрлігі") in before
    assert _flat("Исп. Н.К. Жумабеков, тел. +7 7172 72-15-34") in before
    assert _flat(NEW_NAME) not in before

    with env.services.database.transaction() as session:
        registry = Registry(session)
        old = registry.authority_at("KZ-MVD", datetime.now(UTC))
        assert old is not None
        registry.add_authority(
            "KZ-MVD",
            "KZ",
            NEW_NAME,
            "МВДМ РК",
            # signing times are whole seconds: in force from the start of this second
            datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1),
            requisites=Requisites(
                old.requisites.name_state, NEW_ADDRESS, "+7 7172 99-00-00", "mvdm@mvd.demo.kz"
            ),
        )

    second = env.post_xml(with_new_id(REQUEST))
    assert second.status_code == 201, second.json
    after = _flat(_pdf_text(env, second.json, tmp_path))
    assert _flat(NEW_NAME) in after
    assert _flat(NEW_ADDRESS) in after
    assert _flat("тел. +7 7172 99-00-00, e-mail: mvdm@mvd.demo.kz") in after
    assert _flat("МВДМ РК") in after  # the short name of the signature line, too
    assert _flat("проспект Тәуелсіздік") not in after
    # the first document is stored as issued: still the old name
    again = _flat(_pdf_text(env, first.json, tmp_path))
    assert again == before
