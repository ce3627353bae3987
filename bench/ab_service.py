"""A/B of POST latency between two trees of migdocs, through gunicorn, in alternation.

    python bench/ab_service.py --before ../old-checkout [--pages 1|5] [--pairs 40]
                               [--database URL]

On a shared machine ``bench_service.py``'s ratios move by ±0.1 from run to run, more than
a change of a few milliseconds.  This starts one ``migdocs serve`` (1 worker) from each
tree (``--before`` and this checkout) on one PostgreSQL database it creates, and sends the
same POST to both in turn (the order flips every pair) followed by a bare WeasyPrint render
of the document's HTML, so that both trees see the same machine load.  It prints the p50
and the minimum of each, and p50/bare.  Make ``--before`` with ``git worktree add
../before <commit>``; both trees run on this checkout's virtual environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_service import (
    DEFAULT_DATABASE,
    BareRender,
    as_sender,
    five_page_request,
    one_page_request,
    post,
    prepare,
    scratch_database,
    serving,
)

THIS_TREE = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other tree")
    parser.add_argument("--pages", type=int, choices=(1, 5), default=1)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="PostgreSQL admin URL")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "this tree": THIS_TREE}
    work = Path(tempfile.mkdtemp(prefix="migdocs-ab-"))
    try:
        with scratch_database(args.database, "migdocs_ab") as url:
            first, second, keys, letter = prepare(work, url)
            source = one_page_request() if args.pages == 1 else five_page_request()
            raw = as_sender(source, "KZ-MVD", "BY-MVD")
            bare = BareRender(raw, letter)
            with ExitStack() as stack:
                bases = {
                    label: stack.enter_context(
                        serving(instance, url, 1, "database", tree=tree)
                    ).base
                    for (label, tree), instance in zip(trees.items(), (second, first), strict=True)
                }
                for _ in range(3):  # warm up both workers and this process
                    for base in bases.values():
                        post(base, keys["KZ-MVD"], raw)
                    bare()
                timings: dict[str, list[float]] = {label: [] for label in [*bases, "bare render"]}
                for pair in range(args.pairs):
                    order = list(bases.items())
                    for label, base in order if pair % 2 == 0 else reversed(order):
                        timings[label].append(post(base, keys["KZ-MVD"], raw))
                    timings["bare render"].append(bare())
            bare_p50 = statistics.median(timings["bare render"])
            print(
                f"{args.pages}-page POST, {args.pairs} pairs; load average {os.getloadavg()[0]:.1f}"
            )
            for label, series in timings.items():
                p50 = statistics.median(series)
                ratio = p50 / bare_p50
                fastest = min(series)
                print(f"{label:12} p50 {p50:7.1f} ms  min {fastest:7.1f} ms  p50/bare {ratio:5.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
