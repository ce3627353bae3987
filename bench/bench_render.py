"""Render pipeline benchmark: per-stage medians, pages/s, overhead over bare WeasyPrint.

    python bench/bench_render.py [--runs 20] [--memory-renders 500] [SAMPLE.xml ...]

For each sample it times, in one process and interleaved so machine noise hits both
alike: parse+validate, model, HTML, PDF (our stages) and a *bare* WeasyPrint render of the
same HTML with the same prepared stylesheet and font configuration (no PDF/A variant, no
attachment, no metadata).  The ratio total / bare is the pipeline's overhead.  The memory
line renders one sample repeatedly and compares RSS after 10 and after N renders.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import weasyprint

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.paths import SAMPLES_DIR
from service.pipeline.reading import build
from service.pipeline.rendering import AssetFetcher, default_renderer, unprintable_characters
from service.pipeline.xmlinput import load


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_sample(path: Path, runs: int) -> dict[str, float]:
    renderer = default_renderer()
    raw = path.read_bytes()
    stages: dict[str, list[float]] = {
        k: [] for k in ("parse+validate", "model", "html", "pdf", "total", "bare")
    }
    pages = 0
    for _ in range(runs + 1):  # first run warms caches and is dropped
        t0 = time.perf_counter()
        parsed = load(raw)
        t1 = time.perf_counter()
        unprintable_characters(parsed.root, renderer.printable)
        doc = build(parsed)
        t2 = time.perf_counter()
        html = renderer.html(doc, "BENCH-2026-000001")
        t3 = time.perf_counter()
        rendered = renderer.pdf(doc, html, raw, "BENCH-2026-000001")
        t4 = time.perf_counter()
        photos = {str(p.number): p.photo.data for p in doc.persons if p.photo}
        t5 = time.perf_counter()
        weasyprint.HTML(string=html, url_fetcher=AssetFetcher(renderer._fonts, photos)).write_pdf(
            stylesheets=[renderer.stylesheet], font_config=renderer.font_config
        )
        t6 = time.perf_counter()
        values = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0, t6 - t5)
        for key, value in zip(stages, values, strict=True):
            stages[key].append(value * 1000)
        pages = rendered.page_count
    result = {k: statistics.median(v[1:]) for k, v in stages.items()}
    result["pages"] = pages
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--memory-renders", type=int, default=500)
    args = parser.parse_args()
    samples = args.samples or sorted(SAMPLES_DIR.glob("*.xml"))

    print(
        f"{'sample':32} {'pages':>5} {'parse':>7} {'model':>7} {'html':>7} {'pdf':>8} "
        f"{'total':>8} {'bare':>8} {'ratio':>6} {'pages/s':>8}"
    )
    for path in samples:
        r = bench_sample(path, args.runs)
        print(
            f"{path.name:32} {int(r['pages']):5d} {r['parse+validate']:7.2f} {r['model']:7.2f} "
            f"{r['html']:7.2f} {r['pdf']:8.1f} {r['total']:8.1f} {r['bare']:8.1f} "
            f"{r['total'] / r['bare']:6.3f} {r['pages'] * 1000 / r['total']:8.1f}"
        )
    print("(medians in ms over", args.runs, "runs; ratio = total / bare WeasyPrint)")

    if args.memory_renders:
        renderer = default_renderer()
        raw = (SAMPLES_DIR / "request-photo.xml").read_bytes()
        doc = build(load(raw))
        html = renderer.html(doc)
        after_10 = 0.0
        for i in range(1, args.memory_renders + 1):
            renderer.pdf(doc, html, raw)
            if i == 10:
                gc.collect()
                after_10 = rss_mib()
        gc.collect()
        after_n = rss_mib()
        print(
            f"memory: RSS {after_10:.1f} MiB after 10 renders, {after_n:.1f} MiB after "
            f"{args.memory_renders} (+{after_n - after_10:.1f} MiB)"
        )


if __name__ == "__main__":
    main()
