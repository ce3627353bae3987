"""POST every valid sample to a running migdocs with its sender's API key.

A document that names others (a reply its request, an authenticity request its questioned
document, a consent its consent request, the requesting side's answers their request and
notice) must name documents the service holds, with their dates; so the documents each
sample names are posted first, made from other samples and dated as the sample's
references say, and the sample's references are pointed at them
(``tests.cases.xmltools.prepared``).  Each returned PDF is checked
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
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
NS = {"m": "urn:migdocs:kz-by-migration:v1"}
sys.path.insert(0, str(ROOT))
from tests.cases.xmltools import prepared  # noqa: E402  (the project root is on the path now)


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

        def earlier(raw: bytes, authority: str) -> dict[str, object]:
            status, body = post(args.base, keys, raw)
            if status != 201:
                raise RuntimeError(f"{status} {body.get('message')} {body.get('details')}")
            return body

        try:
            raw = prepared(path.read_bytes(), earlier)
        except RuntimeError as exc:
            print(f"a document named by {path.name} was refused: {exc}")
            failures += 1
            continue
        root = etree.fromstring(raw)
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
