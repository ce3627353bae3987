"""Where the project's own resources live (schemas, templates, fonts)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = PROJECT_ROOT / "schemas"
TEMPLATE_DIR = PROJECT_ROOT / "templates"
SAMPLES_DIR = PROJECT_ROOT / "samples"
