"""S3ObjectStorage against a real S3 server (SeaweedFS), which checks signatures and expiry."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from miniopy_async import Minio
from pydantic import SecretStr, ValidationError

from kartoteka.application.shared.storage import ObjectNotFoundError, StorageUnavailableError
from kartoteka.infrastructure.config.s3 import S3Settings
from kartoteka.infrastructure.storage import S3ObjectStorage
from tests.harness.network import LOOPBACK, free_port
from tests.harness.s3 import S3Server

# One bucket per module run, so reruns against a shared external server never collide.
RUN = uuid.uuid4().hex[:8]
BUCKET = f"kt-storage-{RUN}"
CYRILLIC_KEY = "cards/2026/Ба́тюшка.png"
ALL_BYTES = bytes(range(256)) * 64


def _unique_bucket(label: str) -> str:
    return f"kt-{label}-{RUN}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def settings(s3_server: S3Server) -> S3Settings:
    return S3Settings(
        endpoint=s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=SecretStr(s3_server.secret_key),
        region=s3_server.region,
        secure=s3_server.secure,
        bucket=BUCKET,
        timeout_s=5.0,
    )


@pytest.fixture
async def storage(settings: S3Settings) -> AsyncIterator[S3ObjectStorage]:
    async with S3ObjectStorage(settings) as opened:
        await opened.ensure_bucket()
        yield opened


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # trust_env off: a proxy from the environment must not sit between the test and loopback.
    async with httpx.AsyncClient(trust_env=False, timeout=10.0) as client:
        yield client


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: the store hangs rather than refuses."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((LOOPBACK, 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def _key() -> str:
    return f"tests/{uuid.uuid4().hex}.bin"


async def test_ensure_bucket_twice_is_idempotent(settings: S3Settings) -> None:
    async with S3ObjectStorage(settings, _unique_bucket("twice")) as storage:
        await storage.ensure_bucket()
        await storage.ensure_bucket()
        await storage.ping()


async def test_ensure_bucket_from_two_clients_at_once(settings: S3Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    creations: list[str] = []
    make_bucket = Minio.make_bucket

    async def counted(self: Minio, bucket_name: str, *args: object, **kwargs: object) -> None:
        creations.append(bucket_name)
        await make_bucket(self, bucket_name, *args, **kwargs)

    monkeypatch.setattr(Minio, "make_bucket", counted)
    rounds = 3
    for _ in range(rounds):
        bucket = _unique_bucket("race")
        async with S3ObjectStorage(settings, bucket) as first, S3ObjectStorage(settings, bucket) as second:
            await asyncio.gather(first.ensure_bucket(), second.ensure_bucket())
            await first.put("seen-by-both", b"x", "text/plain")
            assert (await second.get("seen-by-both")).data == b"x"
    # Proof that the race happened: both clients of some round found the bucket missing.
    assert len(creations) > rounds


async def test_round_trip_keeps_every_byte_value_and_the_content_type(storage: S3ObjectStorage) -> None:
    key = _key()
    await storage.put(key, ALL_BYTES, "image/png")

    stored = await storage.get(key)

    assert stored.key == key
    assert stored.data == ALL_BYTES
    assert stored.content_type == "image/png"


async def test_empty_object_round_trips(storage: S3ObjectStorage) -> None:
    key = _key()
    await storage.put(key, b"", "text/plain")

    stored = await storage.get(key)

    assert stored.data == b""
    assert stored.content_type == "text/plain"
    assert await storage.exists(key)


async def test_object_larger_than_a_multipart_part_round_trips(storage: S3ObjectStorage) -> None:
    key = _key()
    data = ALL_BYTES * 400  # 6.25 MiB, above the 5 MiB where miniopy-async would go multipart

    await storage.put(key, data, "image/tiff")

    assert (await storage.get(key)).data == data


async def test_put_replaces_an_existing_object(storage: S3ObjectStorage) -> None:
    key = _key()
    await storage.put(key, b"first version, longer than the second", "text/plain")
    await storage.put(key, b'{"v": 2}', "application/json")

    stored = await storage.get(key)

    assert stored.data == b'{"v": 2}'
    assert stored.content_type == "application/json"


async def test_get_of_a_missing_key_is_not_found(storage: S3ObjectStorage) -> None:
    with pytest.raises(ObjectNotFoundError, match="missing/key"):
        await storage.get("missing/key")


async def test_delete_removes_and_tolerates_a_missing_key(storage: S3ObjectStorage) -> None:
    key = _key()
    await storage.put(key, b"doomed", "text/plain")

    await storage.delete(key)
    await storage.delete(key)
    await storage.delete("never/existed")

    assert not await storage.exists(key)
    with pytest.raises(ObjectNotFoundError):
        await storage.get(key)


async def test_exists(storage: S3ObjectStorage) -> None:
    key = f"exists/{uuid.uuid4().hex}/card.png"
    assert not await storage.exists(key)

    await storage.put(key, b"png", "image/png")

    assert await storage.exists(key)
    # A prefix of a key is no object, even on a server that stores keys as directories.
    assert not await storage.exists(key.rsplit("/", 1)[0])


async def test_listed_names_every_key_under_a_prefix_with_when_it_was_written(settings: S3Settings) -> None:
    async with S3ObjectStorage(settings, _unique_bucket("listed")) as storage:
        await storage.ensure_bucket()
        before = datetime.now(UTC) - timedelta(seconds=5)  # S3 keeps whole seconds; allow for clock skew
        for key in ("cards/b/original.png", "cards/a/original.png", "cardsx/c.png", "thumbnails/d.jpg"):
            await storage.put(key, b"x", "image/png")
        listed = await storage.listed("cards/")
        assert [item.key for item in listed] == ["cards/a/original.png", "cards/b/original.png"]
        assert all(before <= item.modified_at <= datetime.now(UTC) + timedelta(seconds=5) for item in listed)
        assert await storage.listed("nothing/") == []


async def test_cyrillic_key_with_slashes_round_trips(storage: S3ObjectStorage, http: httpx.AsyncClient) -> None:
    await storage.put(CYRILLIC_KEY, ALL_BYTES, "image/png")

    assert await storage.exists(CYRILLIC_KEY)
    assert (await storage.get(CYRILLIC_KEY)).data == ALL_BYTES
    response = await http.get(await storage.presigned_get_url(CYRILLIC_KEY, timedelta(minutes=5)))
    assert response.status_code == 200
    assert response.content == ALL_BYTES

    await storage.delete(CYRILLIC_KEY)
    assert not await storage.exists(CYRILLIC_KEY)


async def test_presigned_url_serves_the_object(storage: S3ObjectStorage, http: httpx.AsyncClient) -> None:
    key = _key()
    await storage.put(key, ALL_BYTES, "image/jpeg")

    response = await http.get(await storage.presigned_get_url(key, timedelta(minutes=5)))

    assert response.status_code == 200
    assert response.content == ALL_BYTES
    assert response.headers["content-type"] == "image/jpeg"


async def test_tampered_presigned_url_is_refused(storage: S3ObjectStorage, http: httpx.AsyncClient) -> None:
    key = _key()
    await storage.put(key, b"secret scan", "image/png")
    url = await storage.presigned_get_url(key, timedelta(minutes=5))
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    signature = query["X-Amz-Signature"]
    query["X-Amz-Signature"] = ("0" if signature[0] != "0" else "1") + signature[1:]

    response = await http.get(urlunsplit(parts._replace(query=urlencode(query))))

    assert response.status_code == 403
    assert b"secret scan" not in response.content


async def test_expired_presigned_url_is_refused(storage: S3ObjectStorage, http: httpx.AsyncClient) -> None:
    key = _key()
    await storage.put(key, b"short-lived", "text/plain")
    url = await storage.presigned_get_url(key, timedelta(seconds=1))

    await asyncio.sleep(2.2)
    response = await http.get(url)

    assert response.status_code == 403


async def test_presigned_url_names_the_public_address(
    settings: S3Settings, s3_server: S3Server, http: httpx.AsyncClient
) -> None:
    public_url = f"http://localhost:{s3_server.port}"
    public = settings.model_copy(update={"public_url": public_url})
    async with S3ObjectStorage(public) as storage:
        key = _key()
        await storage.put(key, b"via the published address", "text/plain")

        url = await storage.presigned_get_url(key, timedelta(minutes=5))

        assert url.startswith(public_url + "/")
        response = await http.get(url)
        assert response.status_code == 200
        assert response.content == b"via the published address"


async def test_presign_rejects_an_expiry_s3_cannot_sign(storage: S3ObjectStorage) -> None:
    with pytest.raises(ValueError, match="7 days"):
        await storage.presigned_get_url("any", timedelta(days=8))


@pytest.mark.parametrize("key", ["", "cards/2026/", "cards/../secret", "./card.png"])
async def test_keys_that_s3_servers_treat_as_paths_are_rejected(storage: S3ObjectStorage, key: str) -> None:
    with pytest.raises(ValueError, match="object"):
        await storage.put(key, b"data", "text/plain")
    with pytest.raises(ValueError, match="object"):
        await storage.exists(key)


async def test_ping_answers_for_a_healthy_store(storage: S3ObjectStorage) -> None:
    await storage.ping()


async def test_ping_fails_when_the_bucket_is_missing(settings: S3Settings) -> None:
    bucket = _unique_bucket("absent")
    async with S3ObjectStorage(settings, bucket) as storage:
        with pytest.raises(StorageUnavailableError, match=bucket):
            await storage.ping()


@pytest.mark.usefixtures("storage")
async def test_wrong_secret_is_unavailable_without_leaking_it(settings: S3Settings, s3_server: S3Server) -> None:
    wrong_secret = "wrong-" + uuid.uuid4().hex
    wrong = settings.model_copy(update={"secret_key": SecretStr(wrong_secret)})
    async with S3ObjectStorage(wrong) as storage:
        calls = [
            storage.ping(),
            storage.put(_key(), b"x", "text/plain"),
            storage.get(_key()),
            storage.exists(_key()),
            storage.delete(_key()),
            storage.ensure_bucket(),
        ]
        for call in calls:
            with pytest.raises(StorageUnavailableError) as caught:
                await call
            message = str(caught.value)
            assert s3_server.endpoint in message
            assert wrong_secret not in message
            assert s3_server.secret_key not in message


async def test_closed_port_is_unavailable_quickly(settings: S3Settings) -> None:
    endpoint = f"{LOOPBACK}:{free_port()}"
    closed = settings.model_copy(update={"endpoint": endpoint})
    async with S3ObjectStorage(closed) as storage:
        started = time.monotonic()
        for call in (storage.ping(), storage.get("k"), storage.put("k", b"x", "text/plain")):
            with pytest.raises(StorageUnavailableError, match=re.escape(endpoint)):
                await call
        assert time.monotonic() - started < 5.0


async def test_silent_server_is_unavailable_after_the_timeout(settings: S3Settings, silent_port: int) -> None:
    endpoint = f"{LOOPBACK}:{silent_port}"
    silent = settings.model_copy(update={"endpoint": endpoint, "timeout_s": 0.5})
    async with S3ObjectStorage(silent) as storage:
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError, match=re.escape("no answer within 0.5 s")) as caught:
            await storage.ping()
        assert time.monotonic() - started < 3.0
        assert endpoint in str(caught.value)


async def test_close_is_repeatable_and_the_adapter_reconnects(settings: S3Settings) -> None:
    storage = S3ObjectStorage(settings)
    await storage.ensure_bucket()
    await storage.close()
    await storage.close()

    await storage.ping()
    await storage.close()


def test_bucket_name_is_checked_at_construction(settings: S3Settings) -> None:
    with pytest.raises(ValueError, match="invalid bucket name"):
        S3ObjectStorage(settings, "Not_A_Bucket")


def test_settings_reject_an_endpoint_with_a_scheme() -> None:
    with pytest.raises(ValidationError, match="host:port"):
        S3Settings(endpoint="http://minio:9000")


def test_settings_normalise_the_public_url_and_hide_the_secret() -> None:
    settings = S3Settings(public_url="https://files.example.org/")

    assert settings.public_url == "https://files.example.org"
    assert "kartoteka-secret" not in repr(settings)
    with pytest.raises(ValidationError, match="without a path"):
        S3Settings(public_url="https://files.example.org/s3")
