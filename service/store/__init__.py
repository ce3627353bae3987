"""Persistence: tables, migrations, the database handle, file storage, the audit log."""
