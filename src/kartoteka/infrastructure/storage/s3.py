"""``ObjectStorage`` on an S3 API (MinIO, SeaweedFS, AWS) through miniopy-async.

The adapter owns its aiohttp session instead of letting miniopy-async create one: the library's
default waits five minutes per connect or read and retries 5xx answers five times, so a dead
store would hold requests and readiness checks for minutes. Here the wait is
``S3Settings.timeout_s`` and there are no retries; the port lets the caller decide whether to
retry.

Every failure other than a missing key leaves as ``StorageUnavailableError`` naming the endpoint
and bucket, never the secret key (which is sent nowhere: requests carry only signatures).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from io import BytesIO
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiohttp
from miniopy_async import Minio
from miniopy_async.error import InvalidResponseError, MinioException, S3Error, ServerError
from miniopy_async.helpers import check_bucket_name

from kartoteka.application.shared.storage import (
    ListedObject,
    ObjectNotFoundError,
    ObjectStorage,
    StorageUnavailableError,
    StoredObject,
)
from kartoteka.infrastructure.config.s3 import S3Settings

DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Answers to creating a bucket that is already there. SeaweedFS and MinIO say ...OwnedByYou; AWS
# says BucketAlreadyExists when the bucket is another account's, so that one is checked further.
_BUCKET_ALREADY_THERE = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})
_NO_SUCH_KEY = "NoSuchKey"
_MAX_DETAIL = 200


class S3ObjectStorage:
    """Objects of one bucket; connections open on first use and are released by ``close``.

    Use it inside one event loop (aiohttp binds its session to the loop that first used it).
    Keys go to S3 as they are, so any UTF-8 key works. A key that is empty, ends with ``/`` or
    has a ``.``/``..`` segment raises ``ValueError``: a programming error, not an unavailable
    store. (A trailing slash marks a directory; SeaweedFS stores such a key as an empty
    directory and silently drops the data.)
    """

    def __init__(self, settings: S3Settings, bucket: str | None = None) -> None:
        self._settings = settings
        self._bucket = settings.bucket if bucket is None else bucket
        # Fail at start-up on a name no S3 server would accept, not on the first request.
        check_bucket_name(self._bucket, strict=True)
        self._client: Any = None

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def endpoint(self) -> str:
        return self._settings.endpoint

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Release pooled connections; a later call reconnects, so closing twice is harmless."""
        client, self._client = self._client, None
        if client is not None:
            await client.close_session()

    async def ensure_bucket(self) -> None:
        """Create the bucket unless it exists; safe when several processes start at once.

        The existence check first keeps credentials that may not create buckets working against a
        bucket provisioned by someone else; losing a creation race is not an error.
        """
        client = self._minio()
        with self._unavailable_on_failure("ensure bucket"):
            if await client.bucket_exists(self._bucket):
                return
            try:
                await client.make_bucket(self._bucket)
            except S3Error as exc:
                if exc.code not in _BUCKET_ALREADY_THERE:
                    raise
                # BucketAlreadyExists may also mean another account's bucket (AWS): only a bucket
                # these credentials can reach is good enough.
                if not await client.bucket_exists(self._bucket):
                    raise

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        _check_key(key)
        client = self._minio()
        with self._unavailable_on_failure("put", key):
            # part_size equal to the length makes this one PutObject (atomic replace, no multipart
            # upload left behind on failure); the bytes are already in memory anyway.
            await client.put_object(
                self._bucket,
                key,
                BytesIO(data),
                len(data),
                content_type=content_type or DEFAULT_CONTENT_TYPE,
                part_size=len(data),
            )

    async def get(self, key: str) -> StoredObject:
        _check_key(key)
        client = self._minio()
        with self._unavailable_on_failure("get", key):
            try:
                response = await client.get_object(self._bucket, key)
            except S3Error as exc:
                if exc.code == _NO_SUCH_KEY:
                    raise ObjectNotFoundError(f"no object {key!r} in bucket {self._bucket}") from None
                raise
            try:
                data: bytes = await response.read()
                content_type: str = response.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE
            finally:
                response.release()
        return StoredObject(key=key, data=data, content_type=content_type)

    async def delete(self, key: str) -> None:
        _check_key(key)
        client = self._minio()
        with self._unavailable_on_failure("delete", key):
            try:
                await client.remove_object(self._bucket, key)
            except S3Error as exc:
                # S3 answers 204 for a missing key; some servers say NoSuchKey instead.
                if exc.code != _NO_SUCH_KEY:
                    raise

    async def exists(self, key: str) -> bool:
        """A missing bucket also reads as False: S3 answers a HEAD without a body to tell them apart."""
        _check_key(key)
        client = self._minio()
        with self._unavailable_on_failure("check", key):
            try:
                await client.stat_object(self._bucket, key)
            except S3Error as exc:
                if exc.code == _NO_SUCH_KEY:
                    return False
                raise
        return True

    async def presigned_get_url(self, key: str, expires: timedelta) -> str:
        """Signed locally, without a request; ``expires`` must lie between 1 second and 7 days.

        The key need not exist yet. With ``S3Settings.public_url`` set the link names that
        address, which must forward the Host header unchanged because it is part of the signature.
        """
        _check_key(key)
        client = self._minio()
        with self._unavailable_on_failure("presign", key):
            url: str = await client.presigned_get_object(self._bucket, key, expires=expires)
        return url

    async def listed(self, prefix: str) -> list[ListedObject]:
        """Every key under ``prefix`` (the library pages through ListObjectsV2 for us)."""
        client = self._minio()
        with self._unavailable_on_failure("list", prefix):
            found = await client.list_objects(self._bucket, prefix=prefix, recursive=True)
        return [
            ListedObject(str(item.object_name), item.last_modified)
            for item in found
            if item.object_name is not None and item.last_modified is not None and not item.is_dir
        ]

    async def ping(self) -> None:
        """A HEAD of the bucket: proves the endpoint answers, the keys work and the bucket exists.

        ListBuckets would need an account-wide permission that bucket-scoped keys lack.
        """
        client = self._minio()
        with self._unavailable_on_failure("ping"):
            found = await client.bucket_exists(self._bucket)
        if not found:
            raise StorageUnavailableError(f"{self._where()}: bucket does not exist (ensure_bucket was not run?)")

    def _minio(self) -> Any:
        """The client, created on first use because an aiohttp session needs a running loop."""
        if self._client is None:
            settings = self._settings
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=settings.timeout_s, sock_read=settings.timeout_s)
            session = aiohttp.ClientSession(timeout=timeout)
            self._client = Minio(
                settings.endpoint,
                access_key=settings.access_key,
                secret_key=settings.secret_key.get_secret_value(),
                secure=settings.secure,
                region=settings.region,
                session=session,
                server_url=settings.public_url,
            )
        return self._client

    def _where(self) -> str:
        scheme = "https" if self._settings.secure else "http"
        return f"S3 store {scheme}://{self._settings.endpoint} (bucket {self._bucket})"

    @contextmanager
    def _unavailable_on_failure(self, action: str, key: str | None = None) -> Iterator[None]:
        """Translate library and transport errors; anything else (ValueError, ...) passes through."""
        try:
            yield
        except (MinioException, aiohttp.ClientError, TimeoutError) as exc:
            subject = f"{action} {key!r}" if key is not None else action
            raise StorageUnavailableError(f"{self._where()}: {subject} failed: {self._describe(exc)}") from exc

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, S3Error):
            status = getattr(exc.response, "status", None)
            return f"{exc.code} (HTTP {status}): {exc.message}"
        if isinstance(exc, ServerError):
            return f"HTTP {exc.status_code}"
        if isinstance(exc, InvalidResponseError):
            return f"not an S3 answer: {str(exc)[:_MAX_DETAIL]}"
        if isinstance(exc, TimeoutError):
            # aiohttp's ServerTimeoutError is both a ClientError and a TimeoutError.
            return f"no answer within {self._settings.timeout_s:g} s"
        return f"{type(exc).__name__}: {exc}"


def _check_key(key: str) -> None:
    if not key or key.endswith("/"):
        raise ValueError(f"object key {key!r} must be non-empty and must not end with '/' (a directory)")


if TYPE_CHECKING:

    def _satisfies_port(storage: S3ObjectStorage) -> ObjectStorage:
        return storage
