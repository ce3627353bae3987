"""A comment or processing instruction inside a text element never drops text (item 1).

lxml's ``.text`` stops at the first comment, so such documents are refused with the line
and XPath of the element — by the service and by ``migdocs validate`` alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli.main import main
from service.errors import UnsafeXml
from service.pipeline.xmlinput import parse

from .conftest import Env, sample_text

SURNAME = "<surname>Д'Артаньян-Ковалёва</surname>"
SURNAME_PATH = "/request/persons/person/nameCyrillic/surname"

CASES = {
    "comment": "<surname>Д'Арт<!-- -->аньян</surname>",
    "processing-instruction": "<surname>Д'Арт<?pi data?>аньян</surname>",
    "comment-only": "<surname><!-- Д'Артаньян --></surname>",
}


def _document(surname: str) -> bytes:
    text = sample_text()
    assert SURNAME in text
    return text.replace(SURNAME, surname, 1).encode()


@pytest.mark.parametrize("case", sorted(CASES))
def test_markup_inside_a_text_element_is_refused_with_line_and_path(env: Env, case: str) -> None:
    response = env.post_xml(_document(CASES[case]))
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "unsafe_xml"
    [detail] = body["details"]
    assert detail["path"] == SURNAME_PATH
    line = (
        sample_text()
        .splitlines()
        .index(next(x for x in sample_text().splitlines() if SURNAME in x))
    )
    assert detail["line"] == line + 1
    assert "surname" in detail["message"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_agrees_with_the_service(tmp_path: Path, case: str) -> None:
    source = tmp_path / "doc.xml"
    source.write_bytes(_document(CASES[case]))
    result = CliRunner().invoke(main, ["validate", "--json", str(source)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["error"] == "unsafe_xml"
    assert report["details"][0]["path"] == SURNAME_PATH


def test_comments_between_elements_are_still_accepted() -> None:
    text = sample_text().replace("<persons>", "<persons><!-- one person --><?pi ok?>", 1)
    root = parse(text.encode())
    assert root is not None


def test_markup_in_base64_content_is_refused_too() -> None:
    text = sample_text()
    start = text.index('<photo mediaType="image/jpeg">') + len('<photo mediaType="image/jpeg">')
    broken = text[: start + 20] + "<!-- cut -->" + text[start + 20 :]
    with pytest.raises(UnsafeXml) as refused:
        parse(broken.encode())
    assert refused.value.violations[0].path == "/request/persons/person/photo"
