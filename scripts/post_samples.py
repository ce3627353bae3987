"""POST every valid sample with its sender's API key; on two nodes, wait for each receipt.

Two nodes (``scripts/run.sh``, the default): each sample goes to its sender's node (KZ on
:8000, BY on :8001); the script then waits until the sender's node holds the peer's
signed receipt (``GET …/delivery``) and prints the incoming number given by the
recipient's node and the time from store to receipt.  ``--single``: one node for both
Parties (``scripts/run.sh --single``), nothing is delivered.

A document that names others (a reply its request, an authenticity request its questioned
document, a consent its consent request, the requesting side's answers their request and
notice) must name documents the service holds, with their dates; so the documents each
sample names are posted first (on two nodes: delivered first), made from other samples and
dated as the sample's references say, and the sample's references are pointed at them
(``tests.cases.xmltools.prepared``).  Each returned PDF is checked with ``pdfsig``.  Exit
status 1 if any POST did not return 201, any signature is invalid or (two nodes) any
delivery did not end with a positive receipt.

    .venv/bin/python scripts/post_samples.py [--kz URL] [--by URL] [--timeout S]
    .venv/bin/python scripts/post_samples.py --single [--base http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
NS = {"m": "urn:migdocs:kz-by-migration:v1"}
sys.path.insert(0, str(ROOT))
from tests.cases.xmltools import prepared  # noqa: E402  (the project root is on the path now)


def load_keys(path: Path) -> dict[str, str]:
    keys = {}
    for line in path.read_text().splitlines():
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


@dataclass
class Nodes:
    """Where each authority's documents are posted, with which key."""

    bases: dict[str, str]
    """Party (or ``*`` for a single node) → base URL."""
    keys: dict[str, str]
    timeout: float = 180.0
    waits: list[float] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def single(self) -> bool:
        return "*" in self.bases

    def base(self, authority: str) -> str:
        return self.bases.get("*") or self.bases[authority[:2]]


def post(nodes: Nodes, raw: bytes) -> tuple[int, dict[str, object]]:
    sender = text(etree.fromstring(raw), "m:header/m:sender")
    status, body = call("POST", f"{nodes.base(sender)}/api/v1/documents", nodes.keys[sender], raw)
    return status, json.loads(body)


def await_receipt(nodes: Nodes, sender: str, stored: dict[str, object]) -> str:
    """Wait until the sender's node has the receipt; a one-line account of it."""
    if nodes.single:
        return ""
    url = f"{nodes.base(sender)}/api/v1/documents/{stored['id']}/delivery"
    started = time.monotonic()
    deadline = started + nodes.timeout
    delivery: dict[str, object] = {"status": "pending"}
    while time.monotonic() < deadline:
        _, body = call("GET", url, nodes.keys[sender])
        delivery = json.loads(body)
        if delivery.get("status") not in ("pending", None):
            break
        time.sleep(0.2)
    waited = time.monotonic() - started
    status = str(delivery.get("status"))
    nodes.outcomes[status] = nodes.outcomes.get(status, 0) + 1
    if status != "delivered":
        return f" → {status}: {delivery.get('last_error') or 'no receipt in time'}"
    nodes.waits.append(waited)
    receipt = delivery["receipt"]
    assert isinstance(receipt, dict)
    return f" → receipt: вх. № {receipt['incoming_number']} ({waited:.1f} s)"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--single", action="store_true", help="one node for both Parties")
    parser.add_argument("--base", default=os.environ.get("BASE", "http://127.0.0.1:8000"))
    parser.add_argument("--kz", default="http://127.0.0.1:8000", help="KZ node (two nodes)")
    parser.add_argument("--by", default="http://127.0.0.1:8001", help="BY node (two nodes)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per receipt")
    args = parser.parse_args()
    instance = Path(os.environ.get("MIGDOCS_INSTANCE", ROOT / "instance"))
    if args.single:
        nodes = Nodes({"*": args.base}, load_keys(instance / "demo-api-keys.env"))
    else:
        keys = load_keys(instance / "kz" / "demo-api-keys.env")
        keys.update(load_keys(instance / "by" / "demo-api-keys.env"))
        nodes = Nodes({"KZ": args.kz, "BY": args.by}, keys, args.timeout)
    failures = 0
    for path in sorted((ROOT / "samples").glob("*.xml")):

        def earlier(raw: bytes, authority: str) -> dict[str, object]:
            status, body = post(nodes, raw)
            if status != 201:
                raise RuntimeError(f"{status} {body.get('message')} {body.get('details')}")
            account = await_receipt(nodes, authority, body)
            print(f"201 {body['registration_number']} (named by the next sample){account}")
            return body

        try:
            raw = prepared(path.read_bytes(), earlier)
        except RuntimeError as exc:
            print(f"a document named by {path.name} was refused: {exc}")
            failures += 1
            continue
        root = etree.fromstring(raw)
        sender = text(root, "m:header/m:sender")
        status, body = post(nodes, raw)
        if status != 201:
            print(f"{status} {path.name}: {body.get('message')}")
            failures += 1
            continue
        links = body["links"]
        assert isinstance(links, dict)
        _, pdf = call("GET", nodes.base(sender) + links["pdf"], nodes.keys[sender])
        with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
            handle.write(pdf)
            handle.flush()
            out = subprocess.run(["pdfsig", handle.name], capture_output=True).stdout.decode(
                "utf-8", "replace"
            )
        verdict = "Signature is Valid" if "Signature is Valid" in out else "SIGNATURE INVALID"
        failures += verdict != "Signature is Valid"
        account = await_receipt(nodes, sender, body)
        print(f"{status} {path.name} → {body['registration_number']}: {verdict}{account}")
    if not nodes.single:
        failures += sum(n for status, n in nodes.outcomes.items() if status != "delivered")
        done = nodes.outcomes.get("delivered", 0)
        line = f"{done} delivered with a positive receipt"
        if nodes.waits:
            line += (
                f"; wait for the receipt: median {statistics.median(nodes.waits):.1f} s, "
                f"max {max(nodes.waits):.1f} s"
            )
        others = {s: n for s, n in nodes.outcomes.items() if s != "delivered"}
        print(line + (f"; not delivered: {others}" if others else ""))
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
