"""``/api/images`` and ``/api/fs``: Sketch-Search's gallery contract, so its web UI works unchanged.

Every path answers with and without a trailing slash, every body is JSON
(deletes included) and every error carries ``error``, because the web UI relies
on all three (docs/contracts.md). Added to the contract:
a ``score`` on every hit, ``min_score`` and correct paging across ``top_k``,
search by text, near-duplicate groups, and the index's state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

from dishka.integrations.fastapi import FromDishka, inject
from fastapi import APIRouter, Body, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile as StarletteUploadFile

from kartoteka.application.gallery.manage_images import DeleteImage, GalleryLimits, UploadImage
from kartoteka.application.gallery.ports.embedding import ImageKind
from kartoteka.application.gallery.ports.files import ImageBytes, ThumbnailMaker
from kartoteka.application.gallery.ports.store import (
    DirectoryNode,
    GalleryReader,
    ImagePage,
    ModelRecord,
    ModelRegistry,
)
from kartoteka.application.gallery.search_images import (
    FindNearDuplicates,
    SearchByExample,
    SearchByImage,
    SearchByText,
    SearchOptions,
)
from kartoteka.application.shared.images import UnreadableImageError
from kartoteka.application.shared.storage import ObjectNotFoundError, ObjectStorage
from kartoteka.domain.errors import ErrorKind, Refusal
from kartoteka.domain.gallery.image import GalleryImage
from kartoteka.presentation.http.auth import Caller
from kartoteka.presentation.http.errors import ShapedRefusal
from kartoteka.presentation.http.gallery_query import (
    MAX_TOP_K,
    QueryError,
    parse_filter,
    parse_int,
    parse_min_score,
    parse_order,
    parse_page,
    parse_query_json,
)
from kartoteka.presentation.http.uploads import read_upload

router = APIRouter(prefix="/api", tags=["gallery"])

Endpoint = Callable[..., Any]


class UploadFormError(ShapedRefusal):
    """An upload form without a usable file; the admin page reads ``status`` and ``message`` too."""

    kind = ErrorKind.MALFORMED

    def __init__(self, message: str) -> None:
        super().__init__(message, {"status": "error", "message": message})


def route(method: str, path: str, **kwargs: Any) -> Callable[[Endpoint], Endpoint]:
    """Register ``path`` and its trailing-slash twin (the web UI calls both spellings, see docs/contracts.md).

    The contract's bodies are plain JSON built here, so no response model is inferred from the
    return annotation (dishka's wrapper leaves it a string FastAPI cannot resolve).
    """
    kwargs.setdefault("response_model", None)

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=[method], **kwargs)
        router.add_api_route(path + "/", endpoint, methods=[method], include_in_schema=False, **kwargs)
        return endpoint

    return register


def image_json(image: GalleryImage, model: str = "", score: float | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(image.id),
        "user_visible_name": image.name,
        "created_at": image.created_at.isoformat(),
        "modified_at": image.modified_at.isoformat(),
        "model_name": model,
        "directory": image.directory,
        "path": image.path,
        "source": image.source.value,
        "size": image.size,
        "width": image.width,
        "height": image.height,
        "task_id": str(image.task_id) if image.task_id else None,
        "error": image.error,
        "uploaded_by": image.uploaded_by,
    }
    if score is not None:
        body["score"] = round(score, 6)
    return body


def page_json(page: ImagePage, model: str = "") -> dict[str, Any]:
    name = page.model.key if page.model else model
    return {"images": [image_json(h.image, name, h.score) for h in page.hits], "total": page.total}


@route("GET", "/images")
@inject
async def list_images(request: Request, reader: FromDishka[GalleryReader], models: FromDishka[ModelRegistry]) -> Any:
    """Filters: page, items_per_page, order_by, direction, name_contains, created/modified min/max, directory."""
    values = dict(request.query_params)
    where, page, (order, descending) = parse_filter(values), parse_page(values), parse_order(values)
    searchable = await models.searchable()
    return page_json(await reader.listing(where, order, descending, page), searchable.model.key if searchable else "")


def _options(values: dict[str, Any], top_k: Any, min_score: Any) -> SearchOptions:
    page = parse_page(values)
    return SearchOptions(
        where=parse_filter(values),
        top_k=parse_int("top_k", top_k, page.items_per_page, 1, MAX_TOP_K),
        page=page,
        min_score=parse_min_score(min_score),
    )


@route("POST", "/images/similarity-search")
@inject
async def similarity_search(
    search: FromDishka[SearchByExample],
    limits: FromDishka[GalleryLimits],
    image: Annotated[UploadFile, File(description="A drawn sketch (PNG, transparent or white) or a photo.")],
    top_k: Annotated[str | None, Form()] = None,
    query_json: Annotated[str | None, Form()] = None,
    min_score: Annotated[str | None, Form()] = None,
    kind: Annotated[ImageKind, Form(description="sketch (what the web UI draws) or photo")] = ImageKind.SKETCH,
) -> Any:
    upload = await read_upload(image, limits.max_upload_bytes)
    options = _options(parse_query_json(query_json), top_k, min_score)
    if not upload.data:
        raise Refusal("the query image is empty", kind=ErrorKind.MALFORMED)
    return page_json(await search(upload.data, kind, options))


def _search_body(required: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a search as the route reads it, for OpenAPI: the route takes a plain object
    (the legacy contract's, whose errors name the field) and checks the fields itself."""
    properties = {
        required: schema,
        "query": {
            "type": "object",
            "additionalProperties": True,
            "description": "Filters and paging, as the query string of GET /api/images.",
        },
        "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K},
        "min_score": {"type": "number", "minimum": -1.0, "maximum": 1.0},
    }
    body = {"type": "object", "required": [required], "properties": properties}
    return {"requestBody": {"content": {"application/json": {"schema": body}}}}


@route(
    "POST",
    "/images/search-by-image",
    openapi_extra=_search_body("image_id", {"type": "string", "format": "uuid"}),
)
@inject
async def search_by_image(search: FromDishka[SearchByImage], body: Annotated[dict[str, Any], Body()]) -> Any:
    try:
        image_id = UUID(str(body.get("image_id")))
    except ValueError:
        raise Refusal("image_id must be a UUID", {"field": "image_id"}) from None
    query = body.get("query") or {}
    if not isinstance(query, dict):
        raise QueryError("query", "must be an object")
    options = _options(query, body.get("top_k"), body.get("min_score"))
    return page_json(await search(image_id, options))


@route(
    "POST",
    "/images/search-by-text",
    openapi_extra=_search_body("text", {"type": "string", "pattern": r"\S", "description": "Not only whitespace."}),
)
@inject
async def search_by_text(search: FromDishka[SearchByText], body: Annotated[dict[str, Any], Body()]) -> Any:
    """Added: a text query, for models with a text tower (CLIP)."""
    text = str(body.get("text") or "").strip()
    if not text:
        raise Refusal("text is required", {"field": "text"})
    query = body.get("query") or {}
    if not isinstance(query, dict):
        raise QueryError("query", "must be an object")
    options = _options(query, body.get("top_k"), body.get("min_score"))
    return page_json(await search(text, options))


@route("GET", "/images/near-duplicates")
@inject
async def near_duplicates(
    find: FromDishka[FindNearDuplicates],
    threshold: Annotated[float, Query(ge=0.0, le=1.0)] = 0.95,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[UUID | None, Query(description="`next_cursor` of the previous page")] = None,
) -> Any:
    """Added: groups of images at least ``threshold`` similar (cosine) to each other.

    A page at a time: each call looks at the next images of the gallery (a few hundred, in one
    query) and says where to go on in ``next_cursor``; ``null`` when every image has been seen.
    """
    page = await find(threshold, limit, cursor)
    return {
        "groups": [[str(i) for i in group] for group in page.groups],
        "threshold": threshold,
        "next_cursor": str(page.next_after) if page.next_after else None,
    }


@route("GET", "/images/index")
@inject
async def index_state(models: FromDishka[ModelRegistry]) -> Any:
    """Added: which model searches use, and how far a model being built in the background has got."""

    async def describe(record: ModelRecord) -> dict[str, Any]:
        progress = await models.progress(record.model)
        return {
            "model": record.model.key,
            "version": record.model.version,
            "state": record.state.value,
            "dimension": record.dimension,
            "supports_text": record.supports_text,
            "embedded": progress.embedded,
            "failed": progress.failed,
            "pending": progress.pending,
        }

    searchable = await models.searchable()
    return {
        "searchable": await describe(searchable) if searchable is not None else None,
        "building": [await describe(record) for record in await models.building()],
    }


@route("POST", "/images")
@inject
async def add_image(
    upload_image: FromDishka[UploadImage],
    limits: FromDishka[GalleryLimits],
    caller: Caller,
    # A part sent without a file name arrives as a plain string: refused like a missing file, not a 422.
    image: Annotated[UploadFile | str | None, File(description="The image, with its file name.")] = None,
    directory: Annotated[str | None, Form(description="Folder in the gallery; '.' or empty is the top.")] = None,
) -> Any:
    if not isinstance(image, StarletteUploadFile) or not image.filename:
        raise UploadFormError("Filename is required.")
    upload = await read_upload(image, limits.max_upload_bytes)
    if not upload.data:
        raise UploadFormError("Empty file.")
    stored = await upload_image(upload.filename, upload.data, directory, uploaded_by=caller.name)
    return {"status": "success", "image": image_json(stored)}


# Only a UUID: otherwise this template also matches /images/index, /images/near-duplicates and the
# search paths, and their 405 would offer DELETE in Allow.
@route("DELETE", "/images/{image_id:uuid}")
@inject
async def delete_image(image_id: UUID, delete: FromDishka[DeleteImage]) -> Any:
    deleted = await delete(image_id)
    return {"status": "success", "id": str(deleted.id)}


def _etag(*parts: object) -> str:
    return '"' + hashlib.sha1("|".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()[:20] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison: any listed tag, weak or strong, or ``*``."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or etag in {t.removeprefix("W/") for t in tags}


def _cached(request: Request, data: bytes, media_type: str, etag: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)


@route("GET", "/images/{image_id}/thumbnail")
@inject
async def thumbnail(
    image_id: UUID,
    request: Request,
    reader: FromDishka[GalleryReader],
    storage: FromDishka[ObjectStorage],
    files: FromDishka[ImageBytes],
    maker: FromDishka[ThumbnailMaker],
) -> Response:
    """Made by the worker that embedded the image; until then made here, on the fly, and not kept."""
    image = await reader.get(image_id)
    etag = _etag(image.id, image.content_hash, image.thumbnail_key)
    if image.thumbnail_key is not None:
        try:
            stored = await storage.get(image.thumbnail_key)
            return _cached(request, stored.data, stored.content_type, etag)
        except ObjectNotFoundError:
            pass
    try:
        made = await maker.make(await files.read(image))
    except UnreadableImageError as exc:
        raise UnreadableImageError(f"no thumbnail: {exc}", {"id": str(image_id)}) from None
    return Response(made.data, media_type=made.media_type, headers={"Cache-Control": "no-store"})


@route("GET", "/images/{image_id}/view")
@inject
async def view(
    image_id: UUID, request: Request, reader: FromDishka[GalleryReader], files: FromDishka[ImageBytes]
) -> Response:
    """The original bytes, with the type of what they are (``image/jpeg``, never ``image/jpg``).

    A watched file is streamed from disk in chunks (and answers Range requests), so a large one is
    never held in memory; an upload or card scan, bounded by the upload limit, comes from S3 whole.
    """
    image = await reader.get(image_id)
    etag = _etag(image.id, image.content_hash)
    local = await files.local_file(image)
    head = local.head if local is not None else await files.read(image)
    # The bytes decide (a watched file's type was guessed from its extension, and a PNG may be named .jpg).
    media_type = _sniff(head)
    if media_type == _UNKNOWN:
        media_type = {"image/jpg": "image/jpeg", "": _UNKNOWN}.get(image.media_type, image.media_type)
    if local is None:
        return _cached(request, head, media_type, etag)
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return FileResponse(local.path, media_type=media_type, headers=headers, content_disposition_type="inline")


_UNKNOWN = "application/octet-stream"


def _sniff(data: bytes) -> str:
    signatures = {
        b"\xff\xd8\xff": "image/jpeg",
        b"\x89PNG": "image/png",
        b"GIF8": "image/gif",
        b"BM": "image/bmp",
        b"II*\x00": "image/tiff",
        b"MM\x00*": "image/tiff",
    }
    for signature, media_type in signatures.items():
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return _UNKNOWN


def tree_json(top: DirectoryNode) -> bytes:
    """The folder tree as JSON, built without recursion: a watched disk may hold folders thousands of
    levels deep, past what a recursive encoder (FastAPI's, or ``json.dumps``) can nest."""
    parts: list[str] = []
    # Work items: a node to open, or the text that closes one (its children's list and itself).
    stack: list[DirectoryNode | str] = [top]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        head = {
            "path": item.path,
            "parent": item.parent,
            "created_at": item.created_at.isoformat(),
            "modified_at": item.modified_at.isoformat(),
        }
        parts.append(json.dumps(head, ensure_ascii=False)[:-1] + ', "children": [')
        stack.append("]}")
        for position, child in reversed(list(enumerate(item.children))):
            stack.append(child)
            if position:
                stack.append(", ")
    return "".join(parts).encode()


@router.get("/fs/watched-directories", tags=["gallery"])
@router.get("/fs/watched-directories/", include_in_schema=False)
@inject
async def watched_directories(reader: FromDishka[GalleryReader]) -> Any:
    """The folder tree: the top is ``.``; children's paths are what the ``directory`` filter takes."""
    return Response(tree_json(await reader.tree()), media_type="application/json")
