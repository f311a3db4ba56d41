"""A JPEG write proved right from its bytes (issue 29 item 1): no exiftool read-back of the new
file where :func:`jpegcheck.proves_write` proves it; everything else still read back. Real
exiftool, real JPEGs; exiv2 (pyexiv2) as the independent reader."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from moodtagger.core.metadata import ExifToolService, WriteItem, write_files
from moodtagger.core.metadata.fields import FileTags
from moodtagger.core.metadata.jpegcheck import proves_write
from moodtagger.core.tools import exiftool_path

from .conftest import exiv2_read

KEYWORDS = ["-XMP-dc:Subject=Awe", "-XMP-lr:HierarchicalSubject=Mood|Awe"]
PLAN = {"XMP-dc:Subject": ["Awe"], "XMP-lr:HierarchicalSubject": ["Mood|Awe"]}


def et(*args: str | Path) -> None:
    subprocess.run([exiftool_path(), "-q", *map(str, args)], check=True)


def written(src: Path, *args: str) -> Path:
    """What exiftool writes from ``src`` to a new file (as the writer does: ``-o``)."""
    out = src.with_name("new-" + src.name)
    et("-o", out, *args, src)
    return out


@pytest.fixture
def photo(make_image, tmp_path: Path) -> Path:
    p = make_image("a.jpg", size=(96, 64), orientation=6)
    et("-overwrite_original", "-XMP-dc:Title=Lake", "-XMP-dc:Creator=Ann", "-EXIF:Artist=Ann", p)
    return p


def test_keywords_only_change_is_proved(photo: Path) -> None:
    assert proves_write(str(photo), str(written(photo, *KEYWORDS)), PLAN, FileTags(str(photo)))


def test_without_xmp_before(make_image) -> None:
    p = make_image("plain.jpg")
    assert proves_write(str(p), str(written(p, *KEYWORDS)), PLAN, FileTags(str(p)))


@pytest.mark.parametrize(
    "extra",
    [
        "-XMP-dc:Title=Sea",  # another XMP text
        "-XMP-dc:Rights=(c)",  # a new XMP text
        "-EXIF:Artist=Bob",  # EXIF (outside XMP)
        "-IPTC:Keywords=Awe",  # IPTC created
        "-XMP-dc:Subject+=Joy",  # a keyword the plan does not have
    ],
)
def test_any_other_change_is_not_proved(photo: Path, extra: str) -> None:
    new = written(photo, *KEYWORDS, extra)
    assert not proves_write(str(photo), str(new), PLAN, FileTags(str(photo)))


def test_changed_image_data_or_trailer_is_not_proved(photo: Path) -> None:
    new = written(photo, *KEYWORDS)
    assert proves_write(str(photo), str(new), PLAN, FileTags(str(photo)))
    data = bytearray(new.read_bytes())
    data[-100] ^= 1  # one bit of the image data
    new.write_bytes(bytes(data))
    assert not proves_write(str(photo), str(new), PLAN, FileTags(str(photo)))
    data[-100] ^= 1
    new.write_bytes(bytes(data) + b"trailer")  # the same data, then a trailer
    shutil.copyfile(photo, photo.with_name("b.jpg"))
    photo.with_name("b.jpg").write_bytes(photo.read_bytes() + b"trailer")
    assert not proves_write(str(photo.with_name("b.jpg")), str(new), PLAN, FileTags(str(photo)))


def test_expected_keywords_must_match(photo: Path) -> None:
    new = written(photo, *KEYWORDS)
    tags = FileTags(str(photo))
    assert not proves_write(str(photo), str(new), {**PLAN, "XMP-dc:Subject": ["Joy"]}, tags)
    assert not proves_write(str(photo), str(new), {**PLAN, "XMP-digiKam:TagsList": ["x"]}, tags)
    assert not proves_write(str(photo), str(photo), PLAN, tags)  # nothing written


def reads_of(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Records each read request (``-j``) any exiftool service runs (a batch of more than one
    chunk starts a second one)."""
    seen: list[tuple[str, ...]] = []
    run = ExifToolService.execute

    def spy(self, *args: str, **kw):
        if "-j" in args:
            seen.append(args)
        return run(self, *args, **kw)

    monkeypatch.setattr(ExifToolService, "execute", spy)
    return seen


def test_a_batch_of_plain_jpegs_is_not_read_back(make_image, service, monkeypatch) -> None:
    """The verify read is spared where the bytes prove the write (it failed before: every
    new file was read back), and the files hold the moods for an independent reader."""
    files = [make_image(f"p{i}.jpg", seed=i) for i in range(6)]
    et("-overwrite_original", "-XMP-dc:Title=Lake", files[0])
    seen = reads_of(monkeypatch)
    s = write_files([WriteItem(str(p), ["awe"]) for p in files], service=service)
    assert s.written == 6 and s.failed == 0
    read = [a for args in seen for a in args if a.endswith(".jpg")]
    assert sorted(read) == sorted(str(p) for p in files)  # each original once, no new file
    for p in files:
        assert exiv2_read(p)["XMP-lr:HierarchicalSubject"] == ["Mood|Awe"]
    assert exiv2_read(files[0])["XMP-dc:Subject"] == ["Awe"]


def test_what_is_not_proved_is_read_back(make_image, service, monkeypatch) -> None:
    """A JPEG with IPTC gets IPTC keywords too: not provable from the XMP, so it is read back
    (and verified as before)."""
    plain, iptc = make_image("plain.jpg"), make_image("iptc.jpg", seed=1)
    et("-overwrite_original", "-IPTC:Keywords=Lake", iptc)
    seen = reads_of(monkeypatch)
    s = write_files([WriteItem(str(p), ["awe"]) for p in (plain, iptc)], service=service)
    assert s.written == 2 and s.failed == 0
    read = [a for args in seen for a in args if a.endswith(".jpg")]
    assert read.count(str(plain)) == 1 and read.count(str(iptc)) == 1
    assert any(".moodtagger-" in a for a in read)  # the IPTC one's new file, read back
    assert exiv2_read(iptc)["IPTC:Keywords"] == ["Lake", "Awe"]
