"""Backups in an S3 bucket through django-storages' S3Storage: S3's API answered in-process by
moto (the one thing mocked here is Amazon's service)."""

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from django.core.management import call_command
from moto import mock_aws

from config.backups.manifest import backup_name
from config.env import backup_storage

BUCKET = "billing-backups"


@pytest.fixture
def bucket(backup_dir, settings, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        settings.BACKUP_STORAGE = backup_storage(f"s3://{BUCKET}/nightly?region_name=us-east-1")
        yield s3


def keys(s3) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_backup_verify_restore_and_retention_with_an_s3_bucket(
    bucket, backup_dir, settings, test_database, make_database, capsys
):
    settings.BACKUP_KEEP_DAILY = 1
    settings.BACKUP_KEEP_WEEKLY = 0
    old = backup_name(test_database.name, datetime.now(UTC) - timedelta(days=3))
    for suffix in (".dump", ".manifest.json"):
        bucket.put_object(Bucket=BUCKET, Key=f"nightly/{old}{suffix}", Body=b"{}")

    call_command("backup")

    manifest_file = next(backup_dir.glob("*.manifest.json"))  # the local copy for /ops
    name = manifest_file.name.removesuffix(".manifest.json")
    assert keys(bucket) == [f"nightly/{name}.dump", f"nightly/{name}.manifest.json"]
    stored = json.loads(
        bucket.get_object(Bucket=BUCKET, Key=f"nightly/{name}.manifest.json")["Body"].read()
    )
    assert stored == json.loads(manifest_file.read_text())
    assert not (backup_dir / f"{name}.dump").exists()
    assert "Retention removed 1 old backup(s)" in capsys.readouterr().out

    call_command("verify_backup")
    assert (
        json.loads(
            bucket.get_object(Bucket=BUCKET, Key=f"nightly/{name}.verify.json")["Body"].read()
        )["ok"]
        is True
    )

    target = make_database("bk_from_s3")
    url = f"postgresql://{target.user}:{target.password}@/{target.name}?host={target.host}"
    call_command("restore", "--from", name, "--into", url)
    assert f"Restored {name} into {target.name}" in capsys.readouterr().out
