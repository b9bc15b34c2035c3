"""Re-encrypt every encrypted column with the newest key in FIELD_ENCRYPTION_KEYS.

Put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), deploy, run this
command, then drop the old keys. Safe to run twice: rotating an already-rotated value only
re-encrypts it with the same newest key.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from tqdm import tqdm

from core.fields import EncryptedField, rotate

BATCH_SIZE = 500


def encrypted_columns() -> list[tuple[type, list[str]]]:
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = [f.column for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if columns:
            found.append((model, columns))
    return found


class Command(BaseCommand):
    help = "Re-encrypt all encrypted columns with the newest FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, no_progress=False, **options):
        total_rows = 0
        for model, columns in encrypted_columns():
            rows = self._rotate_table(model, columns, show=not no_progress)
            total_rows += rows
            self.stdout.write(
                f"{model._meta.label}: {rows} rows re-encrypted ({', '.join(columns)})"
            )
        self.stdout.write(self.style.SUCCESS(f"Done: {total_rows} rows re-encrypted."))

    def _rotate_table(self, model, columns: list[str], *, show: bool) -> int:
        qn = connection.ops.quote_name
        table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
        cols = ", ".join(qn(c) for c in columns)
        not_null = " OR ".join(f"{qn(c)} IS NOT NULL" for c in columns)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {not_null}")  # noqa: S608
            total = cursor.fetchone()[0]
        done, last_pk = 0, None
        with tqdm(
            total=total, desc=model._meta.label, disable=not show, file=self.stderr._out
        ) as bar:
            while True:
                # Raw SQL on purpose: the ORM would decrypt on read and encrypt on write,
                # and the tokens are all this needs. Keyset pagination keeps batches cheap.
                after = f"AND {pk} > %s" if last_pk is not None else ""
                params: list[int] = [last_pk] if last_pk is not None else []
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT {pk}, {cols} FROM {table} WHERE ({not_null}) {after} "  # noqa: S608
                        f"ORDER BY {pk} LIMIT {BATCH_SIZE} FOR UPDATE",
                        params,
                    )
                    batch = cursor.fetchall()
                    for row in batch:
                        values = [rotate(v) if v else v for v in row[1:]]
                        sets = ", ".join(f"{qn(c)} = %s" for c in columns)
                        cursor.execute(
                            f"UPDATE {table} SET {sets} WHERE {pk} = %s",  # noqa: S608
                            [*values, row[0]],
                        )
                if not batch:
                    break
                last_pk = batch[-1][0]
                done += len(batch)
                bar.update(len(batch))
        return done
