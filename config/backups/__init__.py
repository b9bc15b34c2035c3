"""Database backups that restore: ``manage.py backup``, ``restore`` and ``verify_backup``.

A backup is two files in the backup storage (``BACKUP_DIR``, or ``BACKUP_STORAGE_URL``):
``<name>.dump``, a compressed pg_dump custom-format archive, and ``<name>.manifest.json``,
what the dump must contain (migrations applied per app, row counts of the money tables, taken
in the very snapshot pg_dump read) and the dump's sha256. The manifest is written last: a dump
without one is an unfinished backup. ``verify_backup`` restores a backup into a scratch
database and compares it with its manifest; it records the outcome in ``<name>.verify.json``.
"""
