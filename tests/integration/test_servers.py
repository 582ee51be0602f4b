"""One test per harness server, each using a feature a fake would not have.

These guard the harness itself: if one fails, the integration tests built on that server
cannot be trusted either.
"""

from __future__ import annotations

import asyncio
import io
import smtplib
import uuid
from datetime import timedelta
from email.message import EmailMessage

import aio_pika
import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
from miniopy_async import Minio
from miniopy_async.error import S3Error

from tests.harness.postgres import PostgresServer
from tests.harness.rabbitmq import RabbitMQServer
from tests.harness.redis import RedisServer
from tests.harness.s3 import S3Server
from tests.harness.smtp import Inbox, SmtpServer


async def test_postgres_is_18_with_pgvector_hnsw(postgres_server: PostgresServer) -> None:
    connection = await asyncpg.connect(postgres_server.dsn)
    try:
        version = await connection.fetchval("SELECT version()")
        assert version.startswith("PostgreSQL 18"), version

        await connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        await connection.execute("CREATE TEMP TABLE cards (name text PRIMARY KEY, embedding vector(3) NOT NULL)")
        # Axis-aligned and diagonal vectors: the cosine neighbour of the query is unambiguous.
        rows = [
            ("x", "[1,0,0]"),
            ("y", "[0,1,0]"),
            ("z", "[0,0,1]"),
            ("xy", "[1,1,0]"),
            ("yz", "[0,1,1]"),
        ]
        await connection.executemany("INSERT INTO cards (name, embedding) VALUES ($1, $2::vector)", rows)
        await connection.execute("CREATE INDEX cards_embedding_hnsw ON cards USING hnsw (embedding vector_cosine_ops)")
        # Five rows would be seq-scanned; forcing the index proves HNSW itself answers.
        await connection.execute("SET enable_seqscan = off")
        query = "SELECT name FROM cards ORDER BY embedding <=> $1::vector LIMIT $2"
        plan = "\n".join(r[0] for r in await connection.fetch(f"EXPLAIN {query}", "[0,0,1]", 2))
        assert "cards_embedding_hnsw" in plan, plan

        nearest = await connection.fetch(query, "[0.1,0.2,5]", 2)
        assert [r["name"] for r in nearest] == ["z", "yz"]
    finally:
        await connection.close()


async def test_rabbitmq_round_trips_a_persistent_message(
    rabbitmq_server: RabbitMQServer,
) -> None:
    queue_name = f"harness-{uuid.uuid4().hex}"
    body = f"card {uuid.uuid4()}".encode()
    connection = await aio_pika.connect(rabbitmq_server.url, timeout=10)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        await channel.default_exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=queue_name,
        )
        async with asyncio.timeout(10), queue.iterator() as messages:
            async for message in messages:
                async with message.process():
                    received = message
                break
        assert received.body == body
        assert received.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
        await queue.delete(if_unused=False, if_empty=False)


async def test_redis_delivers_pubsub_messages(redis_server: RedisServer) -> None:
    channel = f"harness-{uuid.uuid4().hex}"
    client = aioredis.from_url(redis_server.url)
    async with client, client.pubsub() as pubsub:
        await pubsub.subscribe(channel)
        # Publishing before the server confirms the subscription could lose the message.
        confirmation = await pubsub.get_message(timeout=10)
        assert confirmation is not None
        assert confirmation["type"] == "subscribe"

        assert await client.publish(channel, b"hello") == 1
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=10)
        assert message is not None
        assert message["channel"] == channel.encode()
        assert message["data"] == b"hello"


async def test_s3_checks_signatures_and_serves_presigned_urls(s3_server: S3Server) -> None:
    bucket = f"harness-{uuid.uuid4().hex[:16]}"
    payload = b"\x89PNG not really, but bytes " + uuid.uuid4().bytes
    client = Minio(
        s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        secure=s3_server.secure,
        region=s3_server.region,
    )
    async with client:
        await client.make_bucket(bucket)
        try:
            await client.put_object(bucket, "card.bin", io.BytesIO(payload), len(payload))
            response = await client.get_object(bucket, "card.bin")
            try:
                assert await response.read() == payload
            finally:
                response.close()

            url = await client.presigned_get_object(bucket, "card.bin", timedelta(minutes=5))
            async with httpx.AsyncClient() as http:
                presigned = await http.get(url)
                unsigned = await http.get(f"{s3_server.url}/{bucket}/card.bin")
            assert presigned.status_code == 200
            assert presigned.content == payload
            assert unsigned.status_code == 403

            impostor = Minio(
                s3_server.endpoint,
                access_key=s3_server.access_key,
                secret_key=s3_server.secret_key + "x",
                secure=s3_server.secure,
                region=s3_server.region,
            )
            async with impostor:
                with pytest.raises(S3Error) as rejected:
                    await impostor.get_object(bucket, "card.bin")
            assert rejected.value.code == "SignatureDoesNotMatch"
        finally:
            await client.remove_object(bucket, "card.bin")
            await client.remove_bucket(bucket)


async def test_smtp_records_sent_mail(smtp_server: SmtpServer, smtp_inbox: Inbox) -> None:
    subject = f"Harness check {uuid.uuid4()}"
    message = EmailMessage()
    message["From"] = "kartoteka@example.org"
    message["To"] = "archivist@example.org"
    message["Subject"] = subject
    message.set_content("Карточка оцифрована.")

    def send() -> None:
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as smtp:
            smtp.send_message(message)

    await asyncio.to_thread(send)
    received = await asyncio.to_thread(smtp_server.wait_for_message, lambda m: m.subject == subject, 10)
    assert received in smtp_inbox.messages
    assert received.rcpt_tos == ("archivist@example.org",)
    assert received.mail_from == "kartoteka@example.org"
    assert received.message["To"] == "archivist@example.org"
    assert "Карточка оцифрована." in received.message.get_content()
