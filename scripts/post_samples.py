"""POST every valid sample to a running migdocs with its sender's API key.

Replies (response, refusal and the other notices of Art. 10–11) must answer a request the
service knows, so each reply is preceded by a fresh request from its recipient to its
sender (made from samples/request-photo.xml, dated as the sample's ``inReplyTo`` says),
and the reply's ``inReplyTo`` is pointed at that request.  Each returned PDF is checked
with ``pdfsig``.  Exit status 1 if any POST did not return 201 or any signature is invalid.

    .venv/bin/python scripts/post_samples.py [--base http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
NS = {"m": "urn:migdocs:kz-by-migration:v1"}
REPLY_ROOTS = {
    "response",
    "refusalNotice",
    "additionalInformationRequest",
    "delayNotice",
    "postponementNotice",
    "confidentialityNotice",
}


def load_keys(instance: Path) -> dict[str, str]:
    keys = {}
    for line in (instance / "demo-api-keys.env").read_text().splitlines():
        name, _, value = line.partition("=")
        keys[name.removeprefix("KEY_").replace("_", "-")] = value.strip()
    return keys


def call(method: str, url: str, key: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method=method, headers={"X-API-Key": key, "Content-Type": "application/xml"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def text(root: etree._Element, path: str) -> str:
    found = root.find(path, NS)
    return found.text if found is not None and found.text else ""


def set_text(root: etree._Element, path: str, value: str) -> None:
    found = root.find(path, NS)
    assert found is not None, path
    found.text = value


def request_from(sender: str, recipient: str, date: str) -> bytes:
    root = etree.fromstring((ROOT / "samples" / "request-photo.xml").read_bytes())
    set_text(root, "m:header/m:documentId", str(uuid.uuid4()))
    set_text(root, "m:header/m:documentDate", date)
    set_text(root, "m:header/m:sender", sender)
    set_text(root, "m:header/m:recipient", recipient)
    set_text(root, "m:header/m:signatory", f"{sender}-001")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def post(base: str, keys: dict[str, str], raw: bytes) -> tuple[int, dict[str, object]]:
    sender = text(etree.fromstring(raw), "m:header/m:sender")
    status, body = call("POST", f"{base}/api/v1/documents", keys[sender], raw)
    return status, json.loads(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=os.environ.get("BASE", "http://127.0.0.1:8000"))
    args = parser.parse_args()
    instance = Path(os.environ.get("MIGDOCS_INSTANCE", ROOT / "instance"))
    keys = load_keys(instance)
    failures = 0
    for path in sorted((ROOT / "samples").glob("*.xml")):
        raw = path.read_bytes()
        root = etree.fromstring(raw)
        if etree.QName(root).localname in REPLY_ROOTS:
            sender, recipient = text(root, "m:header/m:sender"), text(root, "m:header/m:recipient")
            status, opened = post(
                args.base, keys, request_from(recipient, sender, text(root, "m:inReplyTo/m:date"))
            )
            if status != 201:
                print(f"{status} request for {path.name}: {opened.get('message')}")
                failures += 1
                continue
            set_text(root, "m:inReplyTo/m:registrationNumber", str(opened["registration_number"]))
            raw = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        status, body = post(args.base, keys, raw)
        if status != 201:
            print(f"{status} {path.name}: {body.get('message')}")
            failures += 1
            continue
        links = body["links"]
        assert isinstance(links, dict)
        sender = text(root, "m:header/m:sender")
        _, pdf = call("GET", args.base + links["pdf"], keys[sender])
        with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
            handle.write(pdf)
            handle.flush()
            out = subprocess.run(["pdfsig", handle.name], capture_output=True).stdout.decode(
                "utf-8", "replace"
            )
        verdict = "Signature is Valid" if "Signature is Valid" in out else "SIGNATURE INVALID"
        failures += verdict != "Signature is Valid"
        print(f"{status} {path.name} → {body['registration_number']}: {verdict}")
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
