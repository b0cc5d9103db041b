"""Buckets and objects on local disk (docs/s3.md, "Storage").

Layout under the data directory::

    buckets/<bucket>/bucket.json             owner account, Region, creation time
    buckets/<bucket>/policy                  the bucket policy, the text as it was put
    buckets/<bucket>/objects/<h2>/<h>.json   an object's metadata (h = SHA-256 of the key)
    buckets/<bucket>/objects/<h2>/<h>.<v>    its bytes (v: a random version token)
    buckets/<bucket>/uploads/<id>/           a multipart upload: upload.json, part files
    tmp/                                     uploads in progress (same file system)

A key never becomes a path: it is hashed, so no key (``../x``, ``a//b``, 1,024 bytes) can
reach outside its bucket or collide with a file name limit. Every write goes to a temporary
file that is renamed into place; an object's metadata file is its commit point (it names
the data file), so a reader sees the old object or the new one, never a mix. The process
keeps each bucket's key index in memory (loaded from the metadata files on first use); one
process owns a data directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import S3Error
from .names import check_upload_id

__all__ = ["BucketInfo", "ObjectInfo", "PartInfo", "Store", "UploadInfo"]


@dataclass(frozen=True, slots=True)
class BucketInfo:
    name: str
    owner: str  # the account id of the creator
    region: str
    created: float


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str  # quoted, as on the wire
    last_modified: float
    content_type: str
    data: str = ""  # the data file's name beside the metadata
    content_encoding: str = ""
    metadata: dict[str, str] = field(default_factory=dict)  # x-amz-meta-*, names lower-case
    checksum_algorithm: str = ""  # CRC32, CRC32C, SHA1, SHA256 (the full-object checksum, if any)
    checksum: str = ""
    parts: int = 0  # parts of a multipart object


@dataclass(frozen=True, slots=True)
class UploadInfo:
    upload_id: str
    key: str
    initiated: float
    owner: str
    initiator: str
    content_type: str
    content_encoding: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str = ""


@dataclass(frozen=True, slots=True)
class PartInfo:
    number: int
    size: int
    etag: str
    md5: str  # hex
    last_modified: float
    checksum_algorithm: str = ""
    checksum: str = ""


def _write_atomic(path: Path, data: bytes, tmp: Path) -> None:
    fd, name = _temp(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise


def _temp(tmp: Path) -> tuple[int, str]:
    name = str(tmp / f"t-{secrets.token_hex(12)}")
    return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), name


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class Store:
    """The S3 service's buckets, objects and uploads in one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.buckets_dir = root / "buckets"
        self.tmp = root / "tmp"
        for d in (root, self.buckets_dir, self.tmp):
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in self.tmp.iterdir():  # uploads cut off by a stop
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        self._lock = threading.RLock()
        self._index: dict[str, dict[str, ObjectInfo]] = {}

    # -- temporary files -----------------------------------------------------------------------
    def temp_file(self) -> tuple[int, str]:
        """A new private file in the store's temporary directory: (fd, path)."""
        return _temp(self.tmp)

    # -- buckets -------------------------------------------------------------------------------
    def _bucket_dir(self, name: str) -> Path:
        return self.buckets_dir / name  # names are checked (names.valid_bucket_name) before

    def bucket(self, name: str) -> BucketInfo | None:
        try:
            raw = json.loads((self._bucket_dir(name) / "bucket.json").read_text())
        except (FileNotFoundError, NotADirectoryError):
            return None
        return BucketInfo(name, raw["owner"], raw["region"], raw["created"])

    def require_bucket(self, name: str) -> BucketInfo:
        info = self.bucket(name)
        if info is None:
            raise S3Error("NoSuchBucket", BucketName=name)
        return info

    def buckets(self) -> list[BucketInfo]:
        found = []
        for entry in sorted(os.listdir(self.buckets_dir)):
            info = self.bucket(entry)
            if info is not None:
                found.append(info)
        return found

    def create_bucket(self, name: str, owner: str, region: str) -> BucketInfo:
        with self._lock:
            existing = self.bucket(name)
            if existing is not None:
                if existing.owner == owner:
                    raise S3Error("BucketAlreadyOwnedByYou", BucketName=name)
                raise S3Error("BucketAlreadyExists", BucketName=name)
            staging = self.tmp / f"b-{secrets.token_hex(8)}"
            staging.mkdir(mode=0o700)
            (staging / "objects").mkdir()
            (staging / "uploads").mkdir()
            info = BucketInfo(name, owner, region, time.time())
            record = {"owner": owner, "region": region, "created": info.created}
            (staging / "bucket.json").write_text(json.dumps(record))
            try:
                os.rename(staging, self._bucket_dir(name))
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)
                raise S3Error("BucketAlreadyExists", BucketName=name) from None
            self._index[name] = {}
            return info

    def delete_bucket(self, name: str) -> None:
        with self._lock:
            self.require_bucket(name)
            if self._objects(name):
                raise S3Error("BucketNotEmpty", BucketName=name)
            trash = self.tmp / f"d-{secrets.token_hex(8)}"
            os.rename(self._bucket_dir(name), trash)
            self._index.pop(name, None)
        shutil.rmtree(trash, ignore_errors=True)

    # -- bucket policy -------------------------------------------------------------------------
    def policy(self, name: str) -> str | None:
        try:
            return (self._bucket_dir(name) / "policy").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def put_policy(self, name: str, text: str) -> None:
        with self._lock:
            self.require_bucket(name)
            _write_atomic(self._bucket_dir(name) / "policy", text.encode("utf-8"), self.tmp)

    def delete_policy(self, name: str) -> None:
        with self._lock:
            self.require_bucket(name)
            (self._bucket_dir(name) / "policy").unlink(missing_ok=True)

    # -- objects -------------------------------------------------------------------------------
    def _objects(self, bucket: str) -> dict[str, ObjectInfo]:
        with self._lock:
            index = self._index.get(bucket)
            if index is None:
                index = {}
                for meta in (self._bucket_dir(bucket) / "objects").glob("*/*.json"):
                    with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
                        info = ObjectInfo(**json.loads(meta.read_text()))
                        index[info.key] = info
                self._index[bucket] = index
            return index

    def _object_paths(self, bucket: str, key: str) -> tuple[Path, str]:
        h = _key_hash(key)
        return self._bucket_dir(bucket) / "objects" / h[:2], h

    def object(self, bucket: str, key: str) -> ObjectInfo | None:
        return self._objects(bucket).get(key)

    def object_file(self, bucket: str, info: ObjectInfo) -> Path:
        folder, _ = self._object_paths(bucket, info.key)
        return folder / info.data

    def keys(self, bucket: str) -> list[ObjectInfo]:
        """Every object of the bucket, in ascending UTF-8 byte order of the keys."""
        with self._lock:
            objects = list(self._objects(bucket).values())
        return sorted(objects, key=lambda o: o.key.encode("utf-8", "surrogatepass"))

    def commit_object(self, bucket: str, info: ObjectInfo, temp_path: str) -> ObjectInfo:
        """Move a finished temporary file into place as ``info.key``: the data file first, then
        the metadata that names it (the commit), then the replaced data file goes."""
        folder, h = self._object_paths(bucket, info.key)
        with self._lock:
            self.require_bucket(bucket)
            folder.mkdir(exist_ok=True)
            data_name = f"{h}.{secrets.token_hex(8)}"
            os.replace(temp_path, folder / data_name)
            info = ObjectInfo(**{**asdict(info), "data": data_name})
            _write_atomic(folder / f"{h}.json", json.dumps(asdict(info)).encode(), self.tmp)
            old = self._objects(bucket).get(info.key)
            self._objects(bucket)[info.key] = info
        if old is not None and old.data != data_name:
            (folder / old.data).unlink(missing_ok=True)
        return info

    def delete_object(self, bucket: str, key: str) -> None:
        folder, h = self._object_paths(bucket, key)
        with self._lock:
            old = self._objects(bucket).pop(key, None)
            (folder / f"{h}.json").unlink(missing_ok=True)
        if old is not None:
            (folder / old.data).unlink(missing_ok=True)

    # -- multipart uploads ---------------------------------------------------------------------
    def _upload_dir(self, bucket: str, upload_id: str) -> Path:
        check_upload_id(upload_id)  # a safe file name from here on
        return self._bucket_dir(bucket) / "uploads" / upload_id

    def create_upload(self, bucket: str, upload: UploadInfo) -> UploadInfo:
        with self._lock:
            self.require_bucket(bucket)
            upload = UploadInfo(**{**asdict(upload), "upload_id": secrets.token_urlsafe(48)})
            folder = self._upload_dir(bucket, upload.upload_id)
            folder.mkdir()
            _write_atomic(folder / "upload.json", json.dumps(asdict(upload)).encode(), self.tmp)
            return upload

    def upload(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        try:
            raw = json.loads((self._upload_dir(bucket, upload_id) / "upload.json").read_text())
        except (FileNotFoundError, NotADirectoryError):
            raise S3Error("NoSuchUpload", UploadId=upload_id) from None
        info = UploadInfo(**raw)
        if info.key != key:
            raise S3Error("NoSuchUpload", UploadId=upload_id)
        return info

    def uploads(self, bucket: str) -> list[UploadInfo]:
        found = []
        for folder in (self._bucket_dir(bucket) / "uploads").iterdir():
            with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
                found.append(UploadInfo(**json.loads((folder / "upload.json").read_text())))
        return sorted(found, key=lambda u: (u.key.encode("utf-8", "surrogatepass"), u.initiated))

    def put_part(self, bucket: str, upload_id: str, part: PartInfo, temp_path: str) -> None:
        folder = self._upload_dir(bucket, upload_id)
        with self._lock:
            if not (folder / "upload.json").exists():
                os.unlink(temp_path)
                raise S3Error("NoSuchUpload", UploadId=upload_id)
            os.replace(temp_path, folder / f"part-{part.number:05d}")
            _write_atomic(folder / f"part-{part.number:05d}.json", json.dumps(asdict(part)).encode(), self.tmp)

    def parts(self, bucket: str, upload_id: str) -> list[PartInfo]:
        folder = self._upload_dir(bucket, upload_id)
        found = []
        for meta in sorted(folder.glob("part-*.json")):
            with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
                found.append(PartInfo(**json.loads(meta.read_text())))
        return found

    def part_file(self, bucket: str, upload_id: str, number: int) -> Path:
        return self._upload_dir(bucket, upload_id) / f"part-{number:05d}"

    def remove_upload(self, bucket: str, upload_id: str) -> None:
        folder = self._upload_dir(bucket, upload_id)
        with self._lock:
            if not folder.exists():
                raise S3Error("NoSuchUpload", UploadId=upload_id)
            trash = self.tmp / f"u-{secrets.token_hex(8)}"
            os.rename(folder, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def read_range(self, path: Path, start: int, length: int, chunk: int = 1 << 20) -> Iterator[bytes]:
        with open(path, "rb") as f:
            f.seek(start)
            left = length
            while left > 0:
                data = f.read(min(chunk, left))
                if not data:
                    return
                left -= len(data)
                yield data
