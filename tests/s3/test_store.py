"""The disk store: commits, restarts, keys that look like paths (docs/s3.md, "Storage")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from iamd.s3.errors import S3Error
from iamd.s3.store import ObjectInfo, Store


def _put(store: Store, bucket: str, key: str, data: bytes) -> ObjectInfo:
    fd, path = store.temp_file()
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return store.commit_object(bucket, ObjectInfo(key, len(data), '"e"', 0.0, "binary/octet-stream"), path)


def test_a_replaced_object_leaves_one_data_file_and_a_restart_sees_the_same(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create_bucket("bucket-one", "111122223333", "us-east-1")
    first = _put(store, "bucket-one", "../k", b"one")
    second = _put(store, "bucket-one", "../k", b"two")
    assert first.data != second.data
    assert not store.object_file("bucket-one", first).exists()
    assert store.object_file("bucket-one", second).read_bytes() == b"two"
    assert not list((tmp_path / "tmp").iterdir())
    (tmp_path / "tmp" / "t-cut-off").write_bytes(b"partial upload")  # a stop mid-upload
    again = Store(tmp_path)
    assert again.object("bucket-one", "../k") == second
    assert not list((tmp_path / "tmp").iterdir())
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(tmp_path.resolve() / "buckets" / "bucket-one") for p in files)


def test_buckets_and_uploads(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create_bucket("bucket-two", "111122223333", "eu-west-1")
    with pytest.raises(S3Error) as owned:
        store.create_bucket("bucket-two", "111122223333", "eu-west-1")
    assert owned.value.code == "BucketAlreadyOwnedByYou"
    with pytest.raises(S3Error) as taken:
        store.create_bucket("bucket-two", "444455556666", "us-east-1")
    assert taken.value.code == "BucketAlreadyExists"
    _put(store, "bucket-two", "k", b"x")
    with pytest.raises(S3Error) as full:
        store.delete_bucket("bucket-two")
    assert full.value.code == "BucketNotEmpty"
    store.delete_object("bucket-two", "k")
    store.delete_bucket("bucket-two")
    assert store.bucket("bucket-two") is None and store.buckets() == []
    for bad in ("../../x", "a/b", "short"):
        with pytest.raises(S3Error) as no_upload:
            store.upload("bucket-two", "k", bad)
        assert no_upload.value.code == "NoSuchUpload"
