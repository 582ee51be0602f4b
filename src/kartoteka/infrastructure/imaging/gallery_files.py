"""GalleryFiles: an image's bytes from its watched root (read in place) or from S3."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

from kartoteka.application.gallery.ports.files import LocalFile
from kartoteka.application.shared.storage import ObjectNotFoundError, ObjectStorage
from kartoteka.domain.gallery.image import GalleryImage, ImageNotFoundError


class GalleryFiles:
    def __init__(self, roots: Mapping[str, Path], storage: ObjectStorage) -> None:
        self._roots = {name: path.resolve() for name, path in roots.items()}
        self._storage = storage

    def local_path(self, image: GalleryImage) -> Path:
        """The file of a watched-directory image; refuses anything that resolves outside its root."""
        if image.root is None or image.root_path is None or image.root not in self._roots:
            raise ImageNotFoundError(f"{image.path}: its watched directory is not configured here")
        root = self._roots[image.root]
        path = (root / image.root_path).resolve()
        if not path.is_relative_to(root):
            raise ImageNotFoundError(f"{image.path}: resolves outside its watched directory")
        return path

    async def read(self, image: GalleryImage) -> bytes:
        if image.object_key is not None:
            try:
                return (await self._storage.get(image.object_key)).data
            except ObjectNotFoundError:
                raise ImageNotFoundError(f"{image.path}: its stored object is gone") from None
        path = self.local_path(image)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise ImageNotFoundError(f"{image.path}: the file is gone") from None

    async def local_file(self, image: GalleryImage) -> LocalFile | None:
        if image.object_key is not None:
            return None
        path = self.local_path(image)

        def probe() -> LocalFile:
            with path.open("rb") as file:
                head = file.read(HEAD_BYTES)
                return LocalFile(path, os.fstat(file.fileno()).st_size, head)

        try:
            return await asyncio.to_thread(probe)
        except (FileNotFoundError, IsADirectoryError):
            raise ImageNotFoundError(f"{image.path}: the file is gone") from None


HEAD_BYTES = 32
