"""The signature font cache closes every font file it opens.

A leaked handle surfaced as a ResourceWarning at a random garbage collection and failed
an unrelated test under ``-W error``; this test makes the leak deterministic.
"""

from __future__ import annotations

import gc
import warnings
from pathlib import Path

import pytest

from signing import appearance


def test_preparing_the_font_leaves_no_file_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(appearance.FONT_CACHE_ENV, str(tmp_path))
    appearance.prepared_font.cache_clear()
    appearance._font_metrics.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            prepared = appearance.prepared_font(str(appearance.DEFAULT_FONT))
            gc.collect()
        assert Path(prepared).parent == tmp_path
        assert Path(prepared).stat().st_size > 0
        leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
        assert leaks == [], [str(w.message) for w in leaks]
    finally:
        appearance.prepared_font.cache_clear()
        appearance._font_metrics.cache_clear()
