"""Wall time of each stage of ``POST /api/v1/documents`` against the bare render, in process.

    python bench/profile_stages.py [--database URL] [--requests 40] [--pages 1|5]
                                   [--storage-backend database|files]

The app is built as ``migdocs serve`` builds it and driven through Flask's test client;
each POST is followed by a bare WeasyPrint render of the same HTML (as in
``bench_service.py``), so the two sides of every ratio see the same machine load.  Each
stage is timed by wrapping the function that does it; the table gives medians per
request, the stage's share of the POST and the bare render for scale.  Unlike cProfile,
this adds no per-call overhead, so the figures add up to the POST's own median.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_service import (
    DEFAULT_DATABASE,
    BareRender,
    Letter,
    as_sender,
    five_page_request,
    one_page_request,
    prepare,
    scratch_database,
    with_new_id,
)

from service.app import create_app
from service.domain.documents import DocumentService
from service.pipeline.rendering import Renderer
from service.server import tune_gc
from signing.api import DocumentSigner

Timings = dict[str, list[float]]


def timed(owner: Any, name: str, label: str, spent: dict[str, float]) -> None:
    """Wrap ``owner.name`` so that its wall time adds to ``spent[label]``."""
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += (time.perf_counter() - start) * 1000

    setattr(owner, name, wrapper)


STAGES = (
    (DocumentService, "parse", "parse + XSD"),
    (DocumentService, "_reserve", "reserve number (tx)"),
    (DocumentSigner, "prepare", "  of which authorise"),
    (DocumentService, "parties_in", "  of which letterhead"),
    (Renderer, "html", "HTML (Jinja2)"),
    (Renderer, "pdf", "render PDF/A (WeasyPrint)"),
    (DocumentSigner, "sign", "sign (PAdES)"),
    (DocumentService, "_issue", "store (tx)"),
    (DocumentService, "create", "DocumentService.create"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="PostgreSQL admin URL")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--pages", type=int, choices=(1, 5), default=1)
    parser.add_argument("--storage-backend", default="database", help="files | database")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="migdocs-stages-"))
    try:
        with scratch_database(args.database, "migdocs_stages") as url:
            instance, _, keys, letter = prepare(work, url)
            key = keys["KZ-MVD"]
            os.environ.update(MIGDOCS_INSTANCE=str(instance), DATABASE_URL=url)
            os.environ["MIGDOCS_STORAGE_BACKEND"] = args.storage_backend
            app = create_app()
            client = app.test_client()
            source = one_page_request() if args.pages == 1 else five_page_request()
            raw = as_sender(source, "KZ-MVD", "BY-MVD")
            headers = {"X-API-Key": key, "Content-Type": "application/xml"}
            blocks: list[Any] = []
            original_numbered = DocumentSigner.numbered

            def remember(self: DocumentSigner, prepared: Any, number: str) -> Any:
                block = original_numbered(self, prepared, number)
                blocks.append(block)
                return block

            DocumentSigner.numbered = remember  # type: ignore[method-assign]
            assert (
                client.post("/api/v1/documents", data=with_new_id(raw), headers=headers).status_code
                == 201
            )
            bare = BareRender(raw, Letter(blocks[-1], letter.parties))
            spent: dict[str, float] = defaultdict(float)
            for owner, attribute, label in STAGES:
                timed(owner, attribute, label, spent)
            for _ in range(3):  # warm up: fonts, templates, connections
                client.post("/api/v1/documents", data=with_new_id(raw), headers=headers)
                bare()
            tune_gc()  # as a gunicorn worker does after its first requests (bare render too)
            series: Timings = defaultdict(list)
            for _ in range(args.requests):
                body = with_new_id(raw)
                spent.clear()
                start = time.perf_counter()
                response = client.post("/api/v1/documents", data=body, headers=headers)
                total = (time.perf_counter() - start) * 1000
                assert response.status_code == 201, response.data
                series["POST (test client)"].append(total)
                for label, ms in spent.items():
                    series[label].append(ms)
                series["bare render"].append(bare())
            post = statistics.median(series["POST (test client)"])
            bare_ms = statistics.median(series["bare render"])
            print(
                f"{args.pages}-page POST in process, {args.requests} requests, storage "
                f"{args.storage_backend}; load average {os.getloadavg()[0]:.1f} on "
                f"{os.cpu_count()} cores"
            )
            print(f"{'stage':32} {'p50 ms':>8} {'of POST':>8}")
            for label in [label for _, _, label in STAGES] + ["POST (test client)", "bare render"]:
                ms = statistics.median(series[label])
                print(f"{label:32} {ms:8.1f} {ms / post:8.0%}")
            print(f"POST / bare render: {post / bare_ms:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
