"""A JPEG write proved right from its bytes (issue 29 item 1): no exiftool read-back of the new
file where :func:`jpegcheck.proves_write` proves it; everything else still read back. Real
exiftool, real JPEGs; exiv2 (pyexiv2) as the independent reader."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from moodtagger.core.metadata import ExifToolService, WriteItem, write_files
from moodtagger.core.metadata import writer as writer_module
from moodtagger.core.metadata.fields import FileTags
from moodtagger.core.metadata.jpegcheck import proves_write, read_ahead
from moodtagger.core.metadata.reader import read_tags
from moodtagger.core.tools import exiftool_path

from .conftest import et_read, exiv2_read

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
    """No exiftool read where the bytes tell: JPEGs without any keyword field are planned from
    their bytes (one has another XMP text), one with keywords is read once before the write;
    no new file is read back (it failed before: every file was read, every new file read
    back). The files hold the moods for an independent reader, the keywords kept."""
    files = [make_image(f"p{i}.jpg", seed=i) for i in range(6)]
    et("-overwrite_original", "-XMP-dc:Title=Lake", files[0])
    et("-overwrite_original", "-XMP-dc:Subject=Beach", files[1])
    seen = reads_of(monkeypatch)
    s = write_files([WriteItem(str(p), ["awe"]) for p in files], service=service)
    assert s.written == 6 and s.failed == 0
    read = [a for args in seen for a in args if a.endswith(".jpg")]
    assert read == [str(files[1])]
    for p in files:
        assert exiv2_read(p)["XMP-lr:HierarchicalSubject"] == ["Mood|Awe"]
    assert exiv2_read(files[0])["XMP-dc:Subject"] == ["Awe"]
    assert exiv2_read(files[1])["XMP-dc:Subject"] == ["Beach", "Awe"]
    assert et_read(files[0], "XMP-dc:Title")["XMP-dc:Title"] == ["Lake"]


def test_read_ahead_is_what_exiftool_reads(make_image, service) -> None:
    """A JPEG read from its bytes is one exiftool finds no keyword field in; any JPEG that
    has one, or a trailer, is left to exiftool."""
    plain, titled = make_image("plain.jpg"), make_image("titled.jpg", orientation=6)
    et("-overwrite_original", "-XMP-dc:Title=Lake", "-EXIF:Artist=Ann", titled)
    holding = {}
    for name, arg in [
        ("subject", "-XMP-dc:Subject=Beach"),
        ("tree", "-XMP-lr:HierarchicalSubject=Places|Beach"),
        ("digikam", "-XMP-digiKam:TagsList=Places/Beach"),
        ("iptc", "-IPTC:Keywords=Beach"),
        ("iptc-other", "-IPTC:City=Rome"),
        ("xp", "-EXIF:XPKeywords=Beach"),
    ]:
        holding[name] = make_image(f"{name}.jpg")
        et("-overwrite_original", arg, holding[name])
    trailer = make_image("trailer.jpg")
    trailer.write_bytes(trailer.read_bytes() + b"AXS!")
    for p in (plain, titled):
        ft = read_ahead(str(p))
        assert ft is not None and ft.unread
        theirs = read_tags(service, [str(p)])[str(p)]
        assert theirs.error is None and not theirs.has_iptc and not theirs.has_xp
        assert ft.values == theirs.values and ft.mime == theirs.mime
    for p in (*holding.values(), trailer):
        assert read_ahead(str(p)) is None, p


def test_a_write_the_bytes_cannot_prove_is_read_back_whole(make_image, service, monkeypatch):
    """Where the proof fails for a file planned from its bytes, exiftool reads the original
    and the new file (the checks as they were) — and the write goes through."""
    files = [make_image(f"p{i}.jpg", seed=i) for i in range(2)]
    monkeypatch.setattr(writer_module, "proves_write", lambda *a: False)
    seen = reads_of(monkeypatch)
    s = write_files([WriteItem(str(p), ["awe"]) for p in files], service=service)
    assert s.written == 2 and s.failed == 0
    read = [a for args in seen for a in args if a.endswith(".jpg")]
    assert sum(".moodtagger-" in a for a in read) == 2 and sorted(
        a for a in read if ".moodtagger-" not in a
    ) == sorted(map(str, files))
    assert all(exiv2_read(p)["XMP-dc:Subject"] == ["Awe"] for p in files)


def test_what_is_not_proved_is_read_back(make_image, service, monkeypatch) -> None:
    """A JPEG with IPTC gets IPTC keywords too: not provable from the XMP, so it is read back
    (and verified as before)."""
    plain, iptc = make_image("plain.jpg"), make_image("iptc.jpg", seed=1)
    et("-overwrite_original", "-IPTC:Keywords=Lake", iptc)
    seen = reads_of(monkeypatch)
    s = write_files([WriteItem(str(p), ["awe"]) for p in (plain, iptc)], service=service)
    assert s.written == 2 and s.failed == 0
    read = [a for args in seen for a in args if a.endswith(".jpg")]
    assert read.count(str(plain)) == 0 and read.count(str(iptc)) == 1
    assert sum(".moodtagger-" in a for a in read) == 1  # the IPTC one's new file, read back
    assert exiv2_read(iptc)["IPTC:Keywords"] == ["Lake", "Awe"]
