"""Object storage adapters (the ``ObjectStorage`` port)."""

from kartoteka.infrastructure.storage.s3 import S3ObjectStorage

__all__ = ["S3ObjectStorage"]
