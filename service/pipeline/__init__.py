"""The document pipeline: XML intake → typed document → HTML → PDF/A (no HTTP, no database)."""
