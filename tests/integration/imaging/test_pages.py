"""PillowPdfiumPageSplitter on real PDFs and TIFFs built here, page order checked by each page's colour."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

import pypdfium2 as pdfium
import pytest
from PIL import Image

from kartoteka.application.recognition.ports.pages import (
    PageImage,
    PageTooLargeError,
    TooManyPagesError,
    UnreadableDocumentError,
)
from kartoteka.infrastructure.config.documents import DocumentSettings
from kartoteka.infrastructure.imaging import pages as pages_module
from kartoteka.infrastructure.imaging.pages import PillowPdfiumPageSplitter, page_filename, split_pages

COLOURS = [(220, 30, 30), (30, 160, 40), (40, 60, 210)]
BIG = 10**8


def pdf_of(colours: Sequence[tuple[int, int, int]], size: tuple[int, int] = (200, 100), dpi: float = 72) -> bytes:
    """A PDF with one flat-colour page per colour; at ``dpi`` 72 a pixel is a point."""
    images = [Image.new("RGB", size, colour) for colour in colours]
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return buffer.getvalue()


def blank_pdf(page_sizes: Sequence[tuple[float, float]]) -> bytes:
    """Empty pages of the given sizes in points, written with pypdfium2's document API."""
    document = pdfium.PdfDocument.new()
    for width, height in page_sizes:
        document.new_page(width, height).close()
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    return buffer.getvalue()


def tiff_of(frames: Sequence[Image.Image], **options: object) -> bytes:
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=list(frames[1:]), **options)
    return buffer.getvalue()


def decode(page: PageImage) -> Image.Image:
    image = Image.open(io.BytesIO(page.data))
    image.load()
    return image


def centre(image: Image.Image) -> object:
    return image.getpixel((image.width // 2, image.height // 2))


def close_to(pixel: object, colour: tuple[int, int, int]) -> bool:
    assert isinstance(pixel, tuple)
    return all(abs(a - b) <= 3 for a, b in zip(pixel, colour, strict=True))


@pytest.fixture
def no_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any PDF page is rasterised."""

    def refuse(*_args: object, **_kwargs: object) -> Image.Image:
        raise AssertionError("a page was rendered")

    monkeypatch.setattr(pages_module, "_render", refuse)


async def test_pdf_pages_come_out_in_order_at_the_configured_dpi() -> None:
    splitter = PillowPdfiumPageSplitter(max_pixels=BIG, pdf_dpi=144, max_pages=10)
    pages = await splitter.split(pdf_of(COLOURS), "Ящик 12/box12.pdf")

    assert [(p.filename, p.media_type, p.page_number, p.page_count) for p in pages] == [
        ("box12-p001.png", "image/png", 1, 3),
        ("box12-p002.png", "image/png", 2, 3),
        ("box12-p003.png", "image/png", 3, 3),
    ]
    assert {p.source_filename for p in pages} == {"Ящик 12/box12.pdf"}
    for page, colour in zip(pages, COLOURS, strict=True):
        image = decode(page)
        assert image.format == "PNG"
        assert image.size == (400, 200)  # 200×100 pt at 144 dpi
        assert close_to(centre(image), colour)


def test_a_rotated_pdf_page_comes_out_as_displayed() -> None:
    document = pdfium.PdfDocument(pdf_of(COLOURS[:2]))
    document[1].set_rotation(90)
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()

    pages = split_pages(buffer.getvalue(), "r.pdf", max_pixels=BIG, pdf_dpi=72, max_pages=10)
    assert [decode(p).size for p in pages] == [(200, 100), (100, 200)]


def test_the_pixel_limit_is_checked_exactly_as_pdfium_renders(no_rendering: None) -> None:
    """200×100 pt at 100 dpi renders 278×139 (PDFium rounds up); one pixel less allowed must refuse it."""
    data = blank_pdf([(200, 100)])
    with pytest.raises(PageTooLargeError, match=r"r\.pdf: page 1: 278×139 = 38642 pixels at 100 dpi") as error:
        split_pages(data, "r.pdf", max_pixels=278 * 139 - 1, pdf_dpi=100, max_pages=10)
    assert (error.value.page_number, error.value.width, error.value.height) == (1, 278, 139)


def test_the_pixel_limit_is_inclusive() -> None:
    pages = split_pages(blank_pdf([(200, 100)]), "r.pdf", max_pixels=278 * 139, pdf_dpi=100, max_pages=10)
    assert decode(pages[0]).size == (278, 139)


def test_an_oversized_pdf_page_is_refused_before_any_page_is_rendered(no_rendering: None) -> None:
    """Page 2 is a 2×2 m poster: at 300 dpi it would be ~560 megapixels, so nothing may be rasterised."""
    data = blank_pdf([(595, 842), (5669, 5669), (595, 842)])
    with pytest.raises(PageTooLargeError, match=r"box\.pdf: page 2: 23621×23621 = \d+ pixels at 300 dpi") as error:
        split_pages(data, "box.pdf", max_pixels=50_000_000, pdf_dpi=300, max_pages=10)
    assert error.value.page_number == 2
    assert error.value.max_pixels == 50_000_000


def test_too_many_pdf_pages_are_refused_before_rendering(no_rendering: None) -> None:
    with pytest.raises(TooManyPagesError, match=r"box\.pdf: 3 pages; at most 2 are accepted") as error:
        split_pages(pdf_of(COLOURS), "box.pdf", max_pixels=BIG, pdf_dpi=72, max_pages=2)
    assert (error.value.page_count, error.value.max_pages) == (3, 2)


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "box.pdf", r"box\.pdf: not a readable PDF \(.*\)"),
        (b"this was never a PDF", "box.pdf", r"box\.pdf: not a readable PDF"),
        (b"", "empty.pdf", r"empty\.pdf: not a readable PDF"),
    ],
)
def test_a_corrupt_pdf_is_a_clear_error(data: bytes, filename: str, reason: str) -> None:
    with pytest.raises(UnreadableDocumentError, match=reason):
        split_pages(data, filename, max_pixels=BIG, pdf_dpi=72, max_pages=10)


def test_a_pdf_without_pages_is_a_clear_error() -> None:
    with pytest.raises(UnreadableDocumentError, match=r"none\.pdf: not a readable PDF"):
        split_pages(blank_pdf([]), "none.pdf", max_pixels=BIG, pdf_dpi=72, max_pages=10)


def test_tiff_frames_become_lossless_pngs_in_order() -> None:
    frames = [Image.new("RGB", (60 + 10 * n, 40), colour) for n, colour in enumerate(COLOURS)]
    frames[1].putpixel((3, 4), (1, 2, 3))  # a detail a lossy codec would smear
    pages = split_pages(tiff_of(frames), "C:\\scans\\box7.tiff", max_pixels=BIG, pdf_dpi=72, max_pages=10)

    assert [(p.filename, p.media_type, p.page_number, p.page_count) for p in pages] == [
        ("box7-p001.png", "image/png", 1, 3),
        ("box7-p002.png", "image/png", 2, 3),
        ("box7-p003.png", "image/png", 3, 3),
    ]
    for page, frame in zip(pages, frames, strict=True):
        image = decode(page)
        assert image.format == "PNG"
        assert image.size == frame.size
        assert image.tobytes() == frame.tobytes()


def test_tiff_frames_are_turned_upright_by_their_orientation_tag() -> None:
    frames = [Image.new("L", (80, 20), 10 * n) for n in range(2)]
    pages = split_pages(tiff_of(frames, tiffinfo={274: 6}), "phone.tif", max_pixels=BIG, pdf_dpi=72, max_pages=10)
    assert [decode(p).size for p in pages] == [(20, 80), (20, 80)]


def test_tiff_frames_png_cannot_hold_stay_lossless_tiffs() -> None:
    cmyk = [Image.new("CMYK", (30, 20), (0, 0, 0, 40 * n)) for n in range(2)]
    pages = split_pages(tiff_of(cmyk), "print.tif", max_pixels=BIG, pdf_dpi=72, max_pages=10)
    assert [(p.filename, p.media_type) for p in pages] == [
        ("print-p001.tif", "image/tiff"),
        ("print-p002.tif", "image/tiff"),
    ]
    assert [(decode(p).mode, decode(p).getpixel((1, 1))) for p in pages] == [
        ("CMYK", (0, 0, 0, 0)),
        ("CMYK", (0, 0, 0, 40)),
    ]

    deep = [Image.new("I;16", (30, 20), 30_000 * n) for n in range(2)]
    pages = split_pages(tiff_of(deep), "deep.tif", max_pixels=BIG, pdf_dpi=72, max_pages=10)
    assert [(p.media_type, decode(p).mode, decode(p).getpixel((0, 0))) for p in pages] == [
        ("image/png", "I;16", 0),
        ("image/png", "I;16", 30_000),
    ]


def test_an_oversized_tiff_frame_names_its_page() -> None:
    frames = [Image.new("L", (10, 10)), Image.new("L", (10, 10)), Image.new("L", (100, 100))]
    with pytest.raises(
        PageTooLargeError, match=r"box\.tif: page 3: 100×100 = 10000 pixels, more than the 5000 allowed"
    ):
        split_pages(tiff_of(frames), "box.tif", max_pixels=5_000, pdf_dpi=72, max_pages=10)


def test_too_many_tiff_frames_are_refused() -> None:
    frames = [Image.new("L", (10, 10), n) for n in range(4)]
    with pytest.raises(TooManyPagesError, match="4 pages; at most 3"):
        split_pages(tiff_of(frames), "box.tif", max_pixels=BIG, pdf_dpi=72, max_pages=3)


def test_a_truncated_tiff_is_a_clear_error() -> None:
    frames = [Image.new("RGB", (200, 200), colour) for colour in COLOURS]
    data = tiff_of(frames)
    for cut in (16, len(data) - 1000):
        with pytest.raises(UnreadableDocumentError, match=r"box\.tif: .*(corrupt or truncated|not a readable image)"):
            split_pages(data[:cut], "box.tif", max_pixels=BIG, pdf_dpi=72, max_pages=10)


def test_a_single_image_is_passed_through_unchanged() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), COLOURS[0]).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    [page] = split_pages(jpeg, "card.jpg", max_pixels=BIG, pdf_dpi=72, max_pages=1)
    assert page == PageImage("card.jpg", jpeg, "image/jpeg", 1, 1, "card.jpg")

    one_frame = tiff_of([Image.new("L", (10, 10))])
    [page] = split_pages(one_frame, "one.tif", max_pixels=BIG, pdf_dpi=72, max_pages=1)
    assert page == PageImage("one.tif", one_frame, "image/tiff", 1, 1, "one.tif")


def test_bytes_that_are_no_image_are_left_for_the_inspector() -> None:
    [page] = split_pages(b"hello", "notes.txt", max_pixels=BIG, pdf_dpi=72, max_pages=1)
    assert (page.data, page.media_type, page.filename) == (b"hello", "application/octet-stream", "notes.txt")


def test_a_single_image_over_the_limit_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (100, 60)).save(buffer, format="PNG")
    with pytest.raises(PageTooLargeError, match=r"big\.png: page 1: 100×60 = 6000 pixels"):
        split_pages(buffer.getvalue(), "big.png", max_pixels=5_999, pdf_dpi=72, max_pages=1)


async def test_concurrent_splits_share_pdfium_safely() -> None:
    """PDFium is not thread-safe; the adapter's lock must keep parallel uploads from crashing the process."""
    splitter = PillowPdfiumPageSplitter(max_pixels=BIG, pdf_dpi=150, max_pages=10)
    documents = [pdf_of(COLOURS[n:] + COLOURS[:n]) for n in range(3)] * 3
    results = await asyncio.gather(*(splitter.split(data, f"d{i}.pdf") for i, data in enumerate(documents)))
    for i, pages in enumerate(results):
        shift = i % 3
        expected = COLOURS[shift:] + COLOURS[:shift]
        assert [close_to(centre(decode(p)), c) for p, c in zip(pages, expected, strict=True)] == [True] * 3


def test_page_file_names_sort_in_page_order() -> None:
    assert page_filename("box12.pdf", 7, 12, ".png") == "box12-p007.png"
    assert page_filename("box12.pdf", 7, 1234, ".png") == "box12-p0007.png"
    assert page_filename("архив\\Ящик 3.tiff", 2, 3, ".png") == "Ящик 3-p002.png"
    assert page_filename("", 1, 1, ".png") == "upload-p001.png"


def test_settings_defaults_and_bounds() -> None:
    settings = DocumentSettings()
    assert (settings.pdf_dpi, settings.max_pages) == (300, 500)
    assert all(field.description for field in DocumentSettings.model_fields.values())
    with pytest.raises(ValueError, match="pdf_dpi"):
        DocumentSettings(pdf_dpi=0)
    with pytest.raises(ValueError, match="extra"):
        DocumentSettings.model_validate({"dpi": 300})
