"""Profile ``POST /api/v1/documents`` of a 1-page request, in process, on PostgreSQL.

    python bench/profile_post.py [--database URL] [--requests 40] [--sort tottime]

The app is built as ``migdocs serve`` builds it (same settings, the real signer and
storage) and driven through Flask's WSGI test client, so HTTP parsing by gunicorn is the
only part left out.  Prints the top-20 functions of cProfile (by own time, then by
cumulative time) and the share of the request spent in WeasyPrint's layout and PDF
writer; ``bench/profile_post_1page.txt`` is the committed output.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_service import (
    DEFAULT_DATABASE,
    as_sender,
    one_page_request,
    prepare,
    scratch_database,
    with_new_id,
)

from service.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="PostgreSQL admin URL")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--storage-backend", default=None, help="files | database")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="migdocs-profile-"))
    try:
        with scratch_database(args.database, "migdocs_profile") as url:
            instance, _, keys, _ = prepare(work, url)
            key = keys["KZ-MVD"]
            os.environ.update(MIGDOCS_INSTANCE=str(instance), DATABASE_URL=url)
            if args.storage_backend:
                os.environ["MIGDOCS_STORAGE_BACKEND"] = args.storage_backend
            client = create_app().test_client()
            raw = as_sender(one_page_request(), "KZ-MVD", "BY-MVD")
            headers = {"X-API-Key": key, "Content-Type": "application/xml"}
            for _ in range(3):  # warm up: fonts, templates, connections
                assert (
                    client.post(
                        "/api/v1/documents", data=with_new_id(raw), headers=headers
                    ).status_code
                    == 201
                )
            bodies = [with_new_id(raw) for _ in range(args.requests)]
            profile = cProfile.Profile()
            start = time.perf_counter()
            profile.enable()
            for body in bodies:
                response = client.post("/api/v1/documents", data=body, headers=headers)
                assert response.status_code == 201, response.data
            profile.disable()
            elapsed = (time.perf_counter() - start) / args.requests * 1000
            print(
                f"1-page POST in process on PostgreSQL: {elapsed:.1f} ms per request "
                f"(under cProfile, {args.requests} requests; load average "
                f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
            )
            stats = pstats.Stats(profile)
            total = stats.total_tt  # type: ignore[attr-defined]
            for sort in ("tottime", "cumulative"):
                out = io.StringIO()
                pstats.Stats(profile, stream=out).strip_dirs().sort_stats(sort).print_stats(20)
                lines = out.getvalue().splitlines()
                start_at = next(
                    i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")
                )
                print(f"\n--- top 20 by {sort} ---")
                print("\n".join(lines[start_at:]).rstrip())
            out = io.StringIO()
            ours = pstats.Stats(profile, stream=out).sort_stats("cumulative")
            ours.print_stats(r"/(service|signing)/", 30)
            lines = out.getvalue().splitlines()
            start_at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
            print("\n--- our own functions (service/, signing/) by cumulative time ---")
            print("\n".join(lines[start_at:]).rstrip())
            shares: dict[str, float] = {}
            for (filename, _, func), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
                if func == "render" and filename.endswith("weasyprint/__init__.py"):
                    shares["WeasyPrint layout (HTML.render)"] = cumulative
                if func == "write_pdf" and filename.endswith("weasyprint/document.py"):
                    shares["WeasyPrint PDF writer (Document.write_pdf)"] = cumulative
                if func == "async_sign" and filename.endswith("signing/api.py"):
                    shares["signing (DocumentSigner.async_sign)"] = cumulative
            print()
            for label, seconds in shares.items():
                print(
                    f"{label}: {seconds / args.requests * 1000:.1f} ms/request, "
                    f"{seconds / total:.0%} of profiled time"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
