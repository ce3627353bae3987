"""Profile of the full verification (what the service runs): the top-N table.

    python bench/profile_verify.py [--runs 200] [--top 20] [--out bench/profile_verify.txt]

Builds the same throw-away instance and document as ``bench_verify.py``, runs the full
check ``--runs`` times under :mod:`cProfile` and prints, per verification, the functions
with the largest cumulative time: calls, cumulative and own milliseconds, and the share
of the whole verification.  The machine is shared, so absolute milliseconds wander; the
shares (measured in one run) and the Python function calls per verification (a count,
independent of load) are what to compare between versions.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_verify import BenchSetup, build_setup

_PLUMBING = ("asyncio/", "contextvars", "bench/", "<built-in method builtins.exec>")
"""Frames that only wrap the verification (event loop, the loop of this script)."""


def _name(func: tuple[str, int, str]) -> str:
    path, line, name = func
    for marker in ("site-packages/", "/signing/", "/service/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker != "site-packages/":
                path = marker.strip("/") + "/" + path
            break
    return f"{path}:{line}({name})" if line else name


def table(stats: pstats.Stats, runs: int, top: int) -> list[str]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    entry = next(
        (f for f in raw if f[2] == "verify" and f[0].endswith("domain/verification.py")), None
    )
    total = raw[entry][3] if entry else max(v[3] for v in raw.values())
    calls = sum(v[1] for v in raw.values())
    rows = sorted(
        (
            (v[3], v[2], v[1], f)
            for f, v in raw.items()
            if not any(p in f[0] or p in f[2] for p in _PLUMBING) and f != entry
        ),
        reverse=True,
    )[:top]
    out = [
        f"runs: {runs}; per verification: {calls / runs:,.0f} Python function calls, "
        f"{total / runs * 1000:.2f} ms under the profiler",
        "",
        f"{'calls':>7} {'cum ms':>8} {'own ms':>8} {'share':>6}  function",
    ]
    for cum, own, ncalls, func in rows:
        out.append(
            f"{ncalls / runs:7.1f} {cum / runs * 1000:8.3f} {own / runs * 1000:8.3f} "
            f"{cum / total:6.1%}  {_name(func)}"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="migdocs-profile-verify-") as tmp:
        setup: BenchSetup = build_setup(Path(tmp))
        try:
            for _ in range(5):
                setup.verifier.verify(setup.pdf)
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(args.runs):
                setup.verifier.verify(setup.pdf)
            profile.disable()
        finally:
            setup.close()
    lines = [setup.describe, *table(pstats.Stats(profile), args.runs, args.top)]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", "utf-8")


if __name__ == "__main__":
    main()
