"""The ``migdocs`` command line."""
