"""PillowPdfiumPageSplitter: multi-page PDF and TIFF uploads into one image per page.

- A PDF is rasterised with PDFium (pypdfium2) at the configured DPI. Each page's
  pixel size is computed from its size in points before anything is rendered,
  so a poster-sized page is refused instead of allocating gigabytes.
- A multi-page TIFF gives each frame as a PNG (upright per its EXIF orientation,
  ICC profile and DPI kept). Frames PNG cannot hold losslessly (CMYK, 32-bit
  integer or float) become single-frame deflate TIFFs instead, so no pixel is
  altered before the card loader sees it.
- Anything else — a JPEG, a PNG, a one-frame TIFF, or bytes that are no image at
  all — is returned unchanged as its own single page; the image inspector is
  the one that accepts or refuses it.

Page files are named ``<stem>-p001.png`` after the upload (``box12.pdf`` →
``box12-p001.png``): a real file name with a real extension survives downloads,
zip bundles and content-type checks, which a ``box12.pdf#p001`` fragment does not.

PDFium is not thread-safe, not even across documents, and the splitter runs in
worker threads (``asyncio.to_thread``), so every PDFium call here happens under
one process-wide lock, and documents, pages and bitmaps are closed explicitly
under it rather than left to garbage collection in whatever thread that runs.
"""

from __future__ import annotations

import asyncio
import io
import math
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pypdfium2 as pdfium  # type: ignore[import-untyped]
from PIL import Image, ImageOps, UnidentifiedImageError

from kartoteka.application.recognition.ports.pages import (
    DecodeLimitError,
    PageImage,
    PageSplitError,
    PageTooLargeError,
    TooManyPagesError,
    UnreadableDocumentError,
)

PDFIUM_LOCK = threading.Lock()
"""Held around every PDFium call in the process; any other PDFium user must take it too."""

POINTS_PER_INCH = 72.0
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B"})
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_PDF_MAGIC = b"%PDF-"
_PDFIUM_PASSWORD_ERRORS = frozenset({4, 5})  # FPDF_ERR_PASSWORD, FPDF_ERR_SECURITY
_PDF_HEADER_WINDOW = 1024  # readers accept the header anywhere in the first KiB


def page_filename(source: str, number: int, count: int, extension: str) -> str:
    """``box12.pdf`` page 3 of 12 → ``box12-p003.png``; folders in the upload's name are dropped."""
    name = source.replace("\\", "/").rsplit("/", 1)[-1]
    head, dot, _ = name.rpartition(".")
    stem = (head if dot and head else name) or "upload"
    digits = max(3, len(str(count)))
    return f"{stem}-p{number:0{digits}d}{extension}"


def _is_pdf(data: bytes, filename: str) -> bool:
    if _PDF_MAGIC in data[:_PDF_HEADER_WINDOW]:
        return True
    # A damaged PDF may have lost its header; trust its name unless the bytes say it is an image.
    return filename.lower().endswith(".pdf") and not data.startswith((b"\xff\xd8\xff", b"\x89PNG"))


@contextmanager
def _decoding(filename: str, page_number: int | None = None) -> Iterator[None]:
    """Whatever Pillow raises on hostile or damaged bytes (a TIFF directory with a text offset is a
    TypeError, a bad EXIF block a struct.error) as one clear error naming the file and page."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data" and the like: not the user's problem
            yield
    except PageSplitError:
        raise
    except Image.DecompressionBombError as exc:
        raise DecodeLimitError(filename, f"too many pixels to decode safely ({exc})", page_number) from None
    except MemoryError:
        raise DecodeLimitError(filename, "too large to decode in the memory available", page_number) from None
    except UnidentifiedImageError:
        raise UnreadableDocumentError(filename, "not a readable image", page_number) from None
    except Exception as exc:  # hostile bytes can make a decoder raise anything
        reason = f"image data is corrupt or truncated ({type(exc).__name__}: {exc})"
        raise UnreadableDocumentError(filename, reason, page_number) from None


def _check_pixels(filename: str, number: int, width: int, height: int, max_pixels: int, detail: str = "") -> None:
    if width * height > max_pixels:
        raise PageTooLargeError(filename, number, width, height, max_pixels, detail)


def split_pages(data: bytes, filename: str, *, max_pixels: int, pdf_dpi: float, max_pages: int) -> list[PageImage]:
    """Blocking; see the module docstring. Raises PageSplitError subclasses."""
    if data.startswith(_TIFF_MAGIC):
        return _split_tiff(data, filename, max_pixels=max_pixels, max_pages=max_pages)
    if _is_pdf(data, filename):
        return _split_pdf(data, filename, max_pixels=max_pixels, dpi=pdf_dpi, max_pages=max_pages)
    return [_single(data, filename, max_pixels)]


def _single(data: bytes, filename: str, max_pixels: int) -> PageImage:
    """The upload itself; its header is read only to refuse an oversized image early and name its type."""
    media_type = "application/octet-stream"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                media_type = Image.MIME.get((image.format or "").upper(), media_type)
                width, height = image.size
    except Exception:  # not ours to judge: the inspector refuses it with its own reason
        pass
    else:
        _check_pixels(filename, 1, width, height, max_pixels)
    return PageImage(filename, data, media_type, 1, 1, filename)


def _split_tiff(data: bytes, filename: str, *, max_pixels: int, max_pages: int) -> list[PageImage]:
    with _decoding(filename), Image.open(io.BytesIO(data)) as image:
        count = int(getattr(image, "n_frames", 1))
        if count <= 1:
            width, height = image.size
            _check_pixels(filename, 1, width, height, max_pixels)
            return [PageImage(filename, data, "image/tiff", 1, 1, filename)]
        if count > max_pages:
            raise TooManyPagesError(filename, count, max_pages)
        pages = []
        for index in range(count):
            number = index + 1
            with _decoding(filename, number):
                image.seek(index)
                width, height = image.size
                _check_pixels(filename, number, width, height, max_pixels)
                image.load()
                encoded, extension, media_type = _encode_lossless(image)
            pages.append(
                PageImage(
                    page_filename(filename, number, count, extension), encoded, media_type, number, count, filename
                )
            )
        return pages


def _encode_lossless(frame: Image.Image) -> tuple[bytes, str, str]:
    """PNG when the mode fits it; otherwise a one-frame deflate TIFF, so no frame loses a bit."""
    upright = ImageOps.exif_transpose(frame)
    extras = {key: frame.info[key] for key in ("icc_profile", "dpi") if frame.info.get(key)}
    buffer = io.BytesIO()
    if upright.mode in _PNG_MODES:
        upright.save(buffer, format="PNG", **extras)
        return buffer.getvalue(), ".png", "image/png"
    upright.save(buffer, format="TIFF", compression="tiff_deflate", **extras)
    return buffer.getvalue(), ".tif", "image/tiff"


def _split_pdf(data: bytes, filename: str, *, max_pixels: int, dpi: float, max_pages: int) -> list[PageImage]:
    scale = dpi / POINTS_PER_INCH
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise UnreadableDocumentError(filename, _load_failure(exc)) from None
    try:
        with PDFIUM_LOCK:
            count = len(document)
            try:
                sizes = [document.get_page_size(index) for index in range(min(count, max_pages))]
            except pdfium.PdfiumError as exc:
                raise UnreadableDocumentError(filename, f"a page's size cannot be read ({exc})") from None
        if count == 0:
            raise UnreadableDocumentError(filename, "the PDF has no pages")
        if count > max_pages:
            raise TooManyPagesError(filename, count, max_pages)
        for index, (width_pt, height_pt) in enumerate(sizes):
            # The same rounding PDFium's renderer uses, so the check is exact, and done for every page first.
            width, height = math.ceil(width_pt * scale), math.ceil(height_pt * scale)
            _check_pixels(filename, index + 1, width, height, max_pixels, f" at {dpi:g} dpi")
        pages = []
        for index in range(count):
            number = index + 1
            image = _render(document, index, scale, filename, number)
            _check_pixels(filename, number, image.width, image.height, max_pixels, f" at {dpi:g} dpi")
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", dpi=(dpi, dpi))
            pages.append(
                PageImage(
                    page_filename(filename, number, count, ".png"),
                    buffer.getvalue(),
                    "image/png",
                    number,
                    count,
                    filename,
                )
            )
        return pages
    finally:
        with PDFIUM_LOCK:
            document.close()


def _load_failure(error: Exception) -> str:
    """PDFium's load error as a reason a linguist can act on.

    The code is PDFium's process-wide "last error", which some failures (a PDF
    without pages) leave untouched: it can be a stale code, or "success".
    """
    code = getattr(error, "err_code", None)
    if code in _PDFIUM_PASSWORD_ERRORS:
        return "the PDF is password-protected or encrypted in a way that cannot be opened"
    if code == 0:
        return "not a readable PDF (PDFium gave no reason; a PDF without pages is one cause)"
    return f"not a readable PDF ({error})"


def _render(document: pdfium.PdfDocument, index: int, scale: float, filename: str, number: int) -> Image.Image:
    """One page as an RGB image that owns its pixels (the PDFium bitmap is freed before returning)."""
    with PDFIUM_LOCK:
        page = bitmap = None
        try:
            page = document[index]
            bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255))
            image: Image.Image = bitmap.to_pil().convert("RGB")
            image.load()
            return image
        except pdfium.PdfiumError as exc:
            raise UnreadableDocumentError(filename, f"the page cannot be rendered ({exc})", number) from None
        finally:
            if bitmap is not None:
                bitmap.close()
            if page is not None:
                page.close()


class PillowPdfiumPageSplitter:
    """PageSplitter; splitting and encoding run in a worker thread, off the event loop."""

    def __init__(self, *, max_pixels: int, pdf_dpi: float = 300, max_pages: int = 500) -> None:
        if max_pixels < 1 or pdf_dpi <= 0 or max_pages < 1:
            raise ValueError("max_pixels, pdf_dpi and max_pages must be positive")
        self._max_pixels = max_pixels
        self._pdf_dpi = pdf_dpi
        self._max_pages = max_pages

    async def split(self, data: bytes, filename: str) -> list[PageImage]:
        return await asyncio.to_thread(
            split_pages,
            data,
            filename,
            max_pixels=self._max_pixels,
            pdf_dpi=self._pdf_dpi,
            max_pages=self._max_pages,
        )
