"""Image loading: formats, colour modes, orientation, DCT-scaled JPEG decoding, RAW previews,
model preprocessing and the thumbnail cache. Real files written by Pillow / exiftool."""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from moodtagger.core import imaging
from moodtagger.core.imaging import ImageError


@pytest.mark.parametrize("name", ["a.jpg", "a.png", "a.tif", "a.webp", "a.heic"])
def test_formats_decode_to_rgb(make_image, name: str) -> None:
    path = make_image(name, size=(80, 60))
    info = imaging.open_image(path)
    assert (info.width, info.height) == (80, 60)
    assert info.image.mode == "RGB" and info.image.size == (80, 60)
    assert info.orientation == 1


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "I;16", "RGBA", "1"])
def test_colour_modes_become_rgb(make_image, mode: str) -> None:
    ext = "jpg" if mode == "CMYK" else "png" if mode != "I;16" else "tif"
    path = make_image(f"m.{ext}", size=(40, 30), mode=mode)
    im = imaging.open_image(path).image
    assert im.mode == "RGB" and im.size == (40, 30)
    assert np.asarray(im).std() > 1  # the picture survived, not a blank frame


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    im = Image.new("RGBA", (10, 10), (255, 0, 0, 255))
    im.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent black
    im.save(tmp_path / "t.png")
    out = imaging.open_image(tmp_path / "t.png").image
    assert out.getpixel((0, 0)) == (255, 255, 255)
    assert out.getpixel((5, 5)) == (255, 0, 0)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    im = Image.new("RGB", (60, 40), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 20, 20))  # red block top-left as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display = rotate 90 degrees clockwise
    im.save(tmp_path / "r.jpg", quality=95, exif=exif.tobytes())
    info = imaging.open_image(tmp_path / "r.jpg")
    assert info.orientation == 6
    assert (info.width, info.height) == (40, 60) and info.image.size == (40, 60)
    r, g, b = info.image.getpixel((30, 5))  # red is now top-right
    assert r > 200 and b < 60


def test_heic_orientation_is_applied(tmp_path: Path) -> None:
    im = Image.new("RGB", (60, 40), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(tmp_path / "r.heic", quality=95, exif=exif.tobytes())
    info = imaging.open_image(tmp_path / "r.heic")
    assert (info.width, info.height) == (40, 60) and info.image.size == (40, 60)
    r, g, b = info.image.getpixel((30, 5))
    assert r > 200 and b < 60


def test_jpeg_draft_decodes_reduced_but_reports_full_size(make_image) -> None:
    path = make_image("big.jpg", size=(2400, 1800))
    info = imaging.open_image(path, min_side=256)
    assert (info.width, info.height) == (2400, 1800)
    assert 256 <= min(info.image.size) < 1800  # DCT scaling: 1/4 gives 600x450
    assert imaging.open_image(path).image.size == (2400, 1800)


def test_decode_gives_thumbnail_and_model_input(make_image) -> None:
    path = make_image("p.jpg", size=(1600, 1200))
    d = imaging.decode(path, model=imaging.Preprocess(256, 224))
    assert d.thumb is not None and max(d.thumb.size) == 256 and d.thumb.size == (256, 192)
    assert d.model_input is not None
    assert d.model_input.shape == (224, 224, 3) and d.model_input.dtype == np.uint8
    assert (d.info.width, d.info.height) == (1600, 1200)


@pytest.mark.parametrize("pre", [imaging.Preprocess(256, 224), imaging.Preprocess(146, 128)])
def test_the_model_input_does_not_depend_on_the_thumbnail(make_image, pre) -> None:
    """The scan's decode (thumbnail + input) and a predict-only decode give the same pixels,
    also for a model smaller than the thumbnail (draft scaling is the same either way)."""
    path = make_image("p.jpg", size=(3000, 2000))
    both = imaging.decode(path, model=pre)
    alone = imaging.decode(path, model=pre, make_thumbnail=False)
    assert alone.thumb is None and both.thumb is not None
    assert np.array_equal(both.model_input, alone.model_input)


def test_center_crop_matches_torchvision(make_image) -> None:
    from torchvision import transforms as T  # the reference (dev extra)

    im = imaging.open_image(make_image("c.png", size=(375, 500))).image
    ref = T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224)])
    assert np.array_equal(
        imaging.center_crop_input(im, imaging.Preprocess(256, 224)), np.asarray(ref(im))
    )


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG that claims ``width`` x ``height`` pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [15_000, 100_000])  # 225 MP (between Pillow's 1x and 2x) and 10 GP
def test_decompression_bomb_is_refused(tmp_path: Path, side: int) -> None:
    _png_header_only(tmp_path / "bomb.png", side, side)
    with pytest.raises(ImageError, match="pixel"):
        imaging.open_image(tmp_path / "bomb.png")


def test_thumbnail_cache_by_identity(make_image) -> None:
    path = make_image("t.jpg", size=(900, 600))
    first = imaging.cached_thumbnail(path, "ab" * 16)
    assert first.size == (256, 171)
    assert imaging.thumb_path("ab" * 16).is_file()
    path.unlink()  # served from the cache now
    again = imaging.cached_thumbnail(path, "ab" * 16)
    assert again.size == first.size
    assert not list(imaging.thumb_path("ab" * 16).parent.glob("*.tmp"))  # atomic write left no temp


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def raw_with_preview(shared_data: Path, tmp_path: Path) -> Path:
    """A real CR2 from exiftool's test set with a 640x480 JPEG preview embedded by exiftool."""
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed")
    raw = tmp_path / "-IMG 0001.CR2"  # a name exiftool must not take for an option
    shutil.copyfile(shared_data / "exiftool-test-images" / "CanonRaw.cr2", raw)
    preview = tmp_path / "preview.jpg"
    Image.new("RGB", (640, 480), (10, 200, 30)).save(preview, quality=90)
    subprocess.run(
        ["exiftool", "-q", "-m", "-overwrite_original", f"-PreviewImage<={preview}", str(raw)],
        check=True,
    )
    return raw


def test_raw_decodes_embedded_preview_without_modifying_it(raw_with_preview: Path) -> None:
    before = _sha(raw_with_preview)
    info = imaging.open_image(raw_with_preview, min_side=256)
    assert info.format == "RAW"
    assert info.image.mode == "RGB" and min(info.image.size) >= 240
    r, g, b = info.image.getpixel((5, 5))
    assert g > 150 and r < 60
    assert (info.width, info.height) == (3456, 2304)  # the RAW's own size, from its EXIF
    assert _sha(raw_with_preview) == before


def test_raw_previews_come_from_one_long_lived_exiftool(raw_with_preview: Path) -> None:
    """Issue 13 item 4: no exiftool process per RAW file; a name with a line break (which
    exiftool's -stay_open arguments cannot carry) still works, through a process of its own."""
    from moodtagger.core.metadata.exiftool import ExifToolService

    copies = []
    for i in range(3):
        copies.append(raw_with_preview.with_name(f"copy{i}.CR2"))
        shutil.copyfile(raw_with_preview, copies[-1])
    pid = None
    with ExifToolService() as service:  # the caller's (the Library's) exiftool
        for raw in copies:
            assert imaging.raw_preview(str(raw), service).jpeg[:2] == b"\xff\xd8"
            assert pid in (None, service.pid)  # the same process every time
            pid = service.pid
        odd = raw_with_preview.with_name("new\nline.CR2")
        shutil.copyfile(raw_with_preview, odd)
        assert imaging.open_image(odd, min_side=256, exiftool=service).format == "RAW"
    assert imaging.raw_preview(str(copies[0]), None).jpeg[:2] == b"\xff\xd8"  # no service


def test_raw_without_preview_is_an_image_error(shared_data: Path) -> None:
    with pytest.raises(ImageError, match="preview"):
        imaging.open_image(shared_data / "exiftool-test-images" / "Nikon.nef")


def test_real_photo_formats_from_exiftool_set(shared_data: Path) -> None:
    folder = shared_data / "exiftool-test-images"
    for name in ("ExifTool.jpg", "ExifTool.tif", "PNG.png", "RIFF.webp", "MWG.jpg"):
        info = imaging.open_image(folder / name)
        assert info.image.mode == "RGB"


def test_embedded_icc_profile_is_converted_to_srgb(shared_data: Path, tmp_path: Path) -> None:
    adobe = (shared_data / "exiftool-test-images" / "ICC_Profile.icc").read_bytes()  # Adobe RGB
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    colour = (40, 160, 90)
    for name, icc in (("adobe.png", adobe), ("srgb.png", srgb), ("none.png", None)):
        Image.new("RGB", (8, 8), colour).save(tmp_path / name, icc_profile=icc)
    assert imaging.open_image(tmp_path / "none.png").image.getpixel((0, 0)) == colour
    assert imaging.open_image(tmp_path / "srgb.png").image.getpixel((0, 0)) == colour
    r, g, b = imaging.open_image(tmp_path / "adobe.png").image.getpixel((0, 0))
    assert abs(r - 40) + abs(g - 160) + abs(b - 90) > 10  # Adobe RGB green is more saturated
    assert g > r and g > b


def test_thumbnail_cache_serves_the_requested_size_not_an_upscaled_one(make_image) -> None:
    """A 640 px request (the grid at a large thumbnail size on a high-DPI screen) must get a
    640 px image, not the cached 256 px one; small photos are served as they are."""
    path = make_image("big.jpg", size=(1600, 1200))
    ident = "cd" * 16
    assert imaging.cached_thumbnail(path, ident).size == (256, 192)  # the scanner's thumbnail
    large = imaging.cached_thumbnail(path, ident, 640)
    assert large.size == (640, 480)
    path.unlink()  # both sizes now come from the cache
    assert imaging.cached_thumbnail(path, ident, 640).size == (640, 480)
    assert imaging.cached_thumbnail(path, ident, 200).size[0] >= 200
    small = make_image("small.jpg", size=(120, 90))
    assert imaging.cached_thumbnail(small, "ef" * 16, 640).size == (120, 90)  # never enlarged
