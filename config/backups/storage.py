"""Where backups are kept, through Django's storage API.

``BACKUP_STORAGE`` (from ``BACKUP_STORAGE_URL``) names any Django storage: a folder, or S3 and
S3-compatible stores through django-storages; unset, the files go to ``BACKUP_DIR``. Only the
storage API is used (open, save, delete, exists, listdir), so any django-storages backend
works. With a storage other than ``BACKUP_DIR`` itself, each manifest and verification record is
also copied into ``BACKUP_DIR``, where the /ops page and the metrics read the last backup's age.
"""

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.module_loading import import_string

from config.backups import manifest as names
from config.backups.progress import LogProgress

CHUNK = 1 << 20


def backup_storage() -> Storage:
    configured = settings.BACKUP_STORAGE
    if configured is None:
        return local_storage()
    return import_string(configured["BACKEND"])(**configured.get("OPTIONS", {}))


def local_storage() -> FileSystemStorage:
    return FileSystemStorage(location=settings.BACKUP_DIR)


def is_backup_dir(storage: Storage) -> bool:
    return (
        isinstance(storage, FileSystemStorage)
        and Path(storage.location).resolve() == Path(settings.BACKUP_DIR).resolve()
    )


def describe(storage: Storage) -> str:
    if isinstance(storage, FileSystemStorage):
        return str(storage.location)
    bucket = getattr(storage, "bucket_name", "")
    where = "/".join(part for part in (bucket, getattr(storage, "location", "")) if part)
    return f"{type(storage).__name__}({where})"


def scratch_dir() -> Path:
    """Local room for a dump on its way to or from the storage (next to the backups, whose
    disk is sized for dumps; /tmp is often a small tmpfs)."""
    path = Path(settings.BACKUP_DIR) / ".tmp"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def backups_in(storage: Storage) -> dict[str, set[str]]:
    """Backup name → the suffixes of its files present in the storage."""
    try:
        _dirs, files = storage.listdir("")
    except FileNotFoundError:
        return {}
    found: dict[str, set[str]] = {}
    for filename in files:
        parts = names.split_filename(filename)
        if parts:
            found.setdefault(parts[0], set()).add(parts[1])
    return found


def complete_backups(storage: Storage) -> list[str]:
    """Names of the backups that have both their dump and their manifest, oldest first."""
    complete = []
    for name, suffixes in backups_in(storage).items():
        parsed = names.parse_name(name)  # always a backup's name: backups_in keeps no other
        if parsed and {names.DUMP, names.MANIFEST} <= suffixes:
            complete.append((parsed[1], name))
    return [name for _at, name in sorted(complete)]


# --- JSON records -----------------------------------------------------------------------------


def read_json(storage: Storage, filename: str) -> dict:
    with storage.open(filename, "rb") as handle:
        return json.loads(handle.read())


def write_json(storage: Storage, filename: str, data: dict) -> None:
    """Write (or replace) a small JSON record, and its copy in BACKUP_DIR (see module doc)."""
    body = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
    _put(storage, filename, body)
    if not is_backup_dir(storage):
        _put(local_storage(), filename, body)


def _put(storage: Storage, filename: str, body: bytes) -> None:
    if isinstance(storage, FileSystemStorage):
        # Readers (the /ops page) never see half a file: write aside, then rename.
        target = Path(storage.path(filename))
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".", delete=False) as out:
            out.write(body)
        os.chmod(out.name, 0o644)  # no secret in a manifest; other local readers may read it
        os.replace(out.name, target)
        return
    if storage.exists(filename):
        storage.delete(filename)
    storage.save(filename, ContentFile(body))


# --- dumps ------------------------------------------------------------------------------------


class _CountingReader:
    """A file whose reads advance a progress bar (uploads through the storage API)."""

    def __init__(self, handle, progress):
        self._handle, self._progress = handle, progress
        self.size = os.fstat(handle.fileno()).st_size
        self.name = handle.name

    def read(self, size=-1):
        data = self._handle.read(size)
        self._progress.advance(len(data))
        return data

    def __getattr__(self, attr):
        return getattr(self._handle, attr)


def store_dump(storage: Storage, filename: str, path: Path, progress=None) -> None:
    """Put the finished dump at ``path`` into the storage (moved when the storage is a folder
    on this machine; the dump holds personal data, so only its owner may read it there)."""
    progress = progress or LogProgress()
    if isinstance(storage, FileSystemStorage):
        target = Path(storage.path(filename))
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise FileExistsError(f"{target} exists already")
        shutil.move(path, target)
        os.chmod(target, 0o600)
        return
    with open(path, "rb") as handle:
        reader = _CountingReader(handle, progress)
        progress.start(total=reader.size, unit="B", desc="upload")
        # A file in all but its type: reads count, everything else is the handle's.
        saved = storage.save(filename, File(cast("IO[bytes]", reader), name=filename))
        progress.finish()
    if saved != filename:
        raise FileExistsError(
            f"{filename} exists already in {describe(storage)} (stored as {saved})"
        )


@contextlib.contextmanager
def local_dump(storage: Storage, filename: str, progress=None) -> Iterator[Path]:
    """A local path to the dump: the file itself in a folder storage, else a download that is
    deleted afterwards."""
    progress = progress or LogProgress()
    if isinstance(storage, FileSystemStorage):
        yield Path(storage.path(filename))
        return
    fd, temporary = tempfile.mkstemp(dir=scratch_dir(), prefix=filename, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, storage.open(filename, "rb") as handle:
            progress.start(total=storage.size(filename), unit="B", desc="download")
            while chunk := handle.read(CHUNK):
                out.write(chunk)
                progress.advance(len(chunk))
            progress.finish()
        yield Path(temporary)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def sha256_of(path: Path, progress=None) -> str:
    progress = progress or LogProgress()
    digest = hashlib.sha256()
    progress.start(total=path.stat().st_size, unit="B", desc="sha256")
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            progress.advance(len(chunk))
    progress.finish()
    return digest.hexdigest()


def delete_backup(storage: Storage, name: str, suffixes) -> None:
    for suffix in suffixes:
        storage.delete(name + suffix)
    if not is_backup_dir(storage):
        mirror = local_storage()
        for suffix in (names.MANIFEST, names.VERIFICATION):
            if mirror.exists(name + suffix):
                mirror.delete(name + suffix)
