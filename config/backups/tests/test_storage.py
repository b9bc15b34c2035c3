"""Backups through a storage that is not a local folder (the path S3 and the other django-storages
backends take), and BACKUP_STORAGE_URL."""

import json

import pytest
from django.core.files.storage import InMemoryStorage
from django.core.management import call_command
from django.utils.module_loading import import_string

from config.backups import storage as stores
from config.env import ConfigurationError, backup_storage

_SHARED = InMemoryStorage()


class SharedMemoryStorage(InMemoryStorage):
    """Django's in-memory storage, one tree for every instance (the backup code makes a new
    storage object per operation, as it would a client of a remote store)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._root = _SHARED._root


@pytest.fixture
def remote_storage(backup_dir, settings):
    settings.BACKUP_STORAGE = {"BACKEND": f"{__name__}.SharedMemoryStorage"}
    storage = SharedMemoryStorage()
    yield storage
    for name in storage.listdir("")[1]:
        storage.delete(name)


def test_backups_go_through_the_storage_api_and_their_manifests_are_mirrored_locally(
    remote_storage, backup_dir, db, make_database, capsys
):
    call_command("backup")

    stored = sorted(remote_storage.listdir("")[1])
    name = stored[0].removesuffix(".dump")
    assert stored == [f"{name}.dump", f"{name}.manifest.json"]
    manifest = json.loads(remote_storage.open(f"{name}.manifest.json").read())
    # The /ops page reads the newest manifest in BACKUP_DIR; the dump stays in the storage.
    assert sorted(path.name for path in backup_dir.iterdir() if path.is_file()) == [
        f"{name}.manifest.json"
    ]
    assert json.loads((backup_dir / f"{name}.manifest.json").read_text()) == manifest

    call_command("verify_backup")
    assert json.loads(remote_storage.open(f"{name}.verify.json").read())["ok"] is True
    assert (backup_dir / f"{name}.verify.json").exists()

    target = make_database("bk_from_storage")
    url = f"postgresql://{target.user}:{target.password}@/{target.name}?host={target.host}"
    call_command("restore", "--from", name, "--into", url)
    assert f"Restored {name} into {target.name}" in capsys.readouterr().out
    assert not any(stores.scratch_dir().iterdir()), "downloads are deleted after use"


def test_backup_storage_url_names_a_folder_or_an_s3_bucket():
    assert backup_storage("file:///srv/backups") == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": "/srv/backups"},
    }

    config = backup_storage(
        "s3://AKIDEXAMPLE:s3cr%2Ft@billing-backups/nightly/db"
        "?endpoint_url=https://s3.example.net&region_name=auto"
    )
    s3 = import_string(config["BACKEND"])(**config["OPTIONS"])
    assert type(s3).__name__ == "S3Storage"
    assert (s3.bucket_name, s3.location, s3.endpoint_url, s3.region_name) == (
        "billing-backups",
        "nightly/db",
        "https://s3.example.net",
        "auto",
    )
    assert (s3.access_key, s3.secret_key) == ("AKIDEXAMPLE", "s3cr/t")
    assert s3.file_overwrite is False
    assert stores.describe(s3) == "S3Storage(billing-backups/nightly/db)"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/backups", "must be a file:// or s3:// URL"),
        ("file://relative/path", "absolute path"),
        ("s3:///prefix", "needs a bucket"),
        ("s3://bucket?acl=public-read", "unknown s3 option"),
    ],
)
def test_a_malformed_backup_storage_url_is_refused_with_the_variable_name(url, message):
    with pytest.raises(ConfigurationError, match=message) as refused:
        backup_storage(url)
    assert "BACKUP_STORAGE_URL" in str(refused.value)
