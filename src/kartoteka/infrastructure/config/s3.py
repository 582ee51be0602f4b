"""S3 object store connection settings (MinIO, SeaweedFS, AWS and the like).

A section of its own so that the storage adapter depends on what it needs, not on the whole
configuration; the lead wires it into ``Settings``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class S3Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(
        "127.0.0.1:9000",
        description="host:port of the S3 API, without a scheme (the scheme follows `secure`).",
    )
    access_key: str = Field("kartoteka", description="Access key id.")
    secret_key: SecretStr = Field(
        SecretStr("kartoteka-secret"),
        description="Secret key; the default suits a local development server only.",
    )
    region: str = Field(
        "us-east-1",
        min_length=1,
        description="Region used for signing; fixing it saves a bucket-location request per bucket.",
    )
    secure: bool = Field(False, description="Use HTTPS (with certificate checks) instead of HTTP.")
    bucket: str = Field("kartoteka", description="Bucket holding every object of this deployment.")
    timeout_s: float = Field(
        10.0,
        gt=0.0,
        description="Seconds to wait for a connection, and for each read while a response arrives; "
        "not a limit on a whole transfer, so large objects still stream.",
    )
    public_url: str | None = Field(
        None,
        description="scheme://host:port put into presigned links when clients reach the store by another "
        "address than `endpoint` (a proxy or published port); null uses the endpoint.",
    )

    @field_validator("endpoint")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        endpoint = value.strip()
        if "://" in endpoint or "/" in endpoint:
            raise ValueError("must be host:port without a scheme or path (set `secure` for HTTPS)")
        try:
            parts = urlsplit(f"//{endpoint}")
            parts.port  # noqa: B018 - raises on a port that is not a number in range
        except ValueError as exc:
            raise ValueError(f"must be host:port ({exc})") from None
        if not parts.hostname:
            raise ValueError("must be host:port")
        return endpoint

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        problem = "must be http(s)://host[:port] without a path, query or credentials"
        try:
            parts = urlsplit(value.strip())
            parts.port  # noqa: B018 - raises on a port that is not a number in range
        except ValueError:
            raise ValueError(problem) from None
        plain = not (parts.path.strip("/") or parts.query or parts.fragment or parts.username)
        if parts.scheme not in {"http", "https"} or not parts.hostname or not plain:
            raise ValueError(problem)
        return f"{parts.scheme}://{parts.netloc}"
