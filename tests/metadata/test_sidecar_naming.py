"""Issue 11.2: a sidecar belongs to exactly one file."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from moodtagger.core.metadata import WriteItem, WriteSettings, read_moods, write_files

from .conftest import et_read, exiv2_read, sha256


@pytest.fixture
def sample(shared_data, tmp_path):
    def copy(name: str, as_name: str | None = None):
        dst = tmp_path / (as_name or name)
        shutil.copyfile(shared_data / "exiftool-test-images" / name, dst)
        return dst

    return copy


def test_raw_jpeg_pair_raw_gets_the_lightroom_sidecar(sample, make_image, service):
    """Issue 23.3: Lightroom reads DSC_0001.xmp for the NEF even beside DSC_0001.JPG (the JPEG
    holds its XMP inside and never reads that file)."""
    nef = sample("Nikon.nef", "DSC_0001.NEF")
    jpg = make_image("DSC_0001.JPG")
    res = write_files([WriteItem(str(nef), ["fear"])], service=service)
    assert res.results[0].targets == [str(nef.parent / "DSC_0001.xmp")]
    assert not (nef.parent / "DSC_0001.NEF.xmp").exists()
    assert exiv2_read(nef.parent / "DSC_0001.xmp")["XMP-lr:HierarchicalSubject"] == ["Mood|Fear"]
    moods = {os.path.basename(m.path): m.moods for m in read_moods([nef, jpg], service=service)}
    assert moods == {"DSC_0001.NEF": ["fear"], "DSC_0001.JPG": []}


def _lightroom_sidecar(exiftool, path, *args):
    subprocess.run(
        [
            exiftool,
            "-q",
            "-XMP-xmp:Rating=4",
            "-XMP-crs:Exposure2012=+0.35",
            "-XMP-dc:Subject=Beach",
            "-XMP-lr:HierarchicalSubject=Places|Beach",
            *args,
            "-o",
            os.fspath(path),
        ],
        check=True,
    )


def test_existing_lightroom_sidecar_of_a_pair_is_read_and_updated(
    sample, make_image, exiftool, service
):
    nef = sample("Nikon.nef", "DSC_0001.NEF")
    jpg = make_image("DSC_0001.JPG")
    side = nef.parent / "DSC_0001.xmp"
    _lightroom_sidecar(exiftool, side, "-XMP-lr:HierarchicalSubject+=Mood|Awe")
    # read sees the keywords of the existing sidecar (and not for the JPEG)
    found = read_moods([nef, jpg], service=service)
    assert found[0].moods == ["awe"] and "Beach" in found[0].keywords
    assert found[1].moods == []
    res = write_files([WriteItem(str(nef), ["fear"])], service=service)
    assert res.written == 1, res.results[0].error
    assert res.results[0].targets == [str(side)]
    assert not (nef.parent / "DSC_0001.NEF.xmp").exists()
    back = et_read(side, "XMP:all")
    assert back["XMP-lr:HierarchicalSubject"] == ["Places|Beach", "Mood|Fear"]
    assert back["XMP-xmp:Rating"] == [4]
    assert back["XMP-crs:Exposure2012"] == ["+0.35"]
    assert exiv2_read(side)["XMP-dc:Subject"] == ["Beach", "Fear"]


def test_every_existing_sidecar_is_updated_and_read(sample, make_image, exiftool, service):
    nef = sample("Nikon.nef", "DSC_0002.NEF")
    make_image("DSC_0002.JPG")
    stem, ext = nef.parent / "DSC_0002.xmp", nef.parent / "DSC_0002.NEF.xmp"
    _lightroom_sidecar(exiftool, stem)
    _lightroom_sidecar(exiftool, ext)
    res = write_files([WriteItem(str(nef), ["awe"])], service=service)
    assert sorted(res.results[0].targets) == sorted([str(stem), str(ext)])
    for s in (stem, ext):
        assert exiv2_read(s)["XMP-lr:HierarchicalSubject"] == ["Places|Beach", "Mood|Awe"]
    assert sorted(read_moods([nef], service=service)[0].sources) == sorted([str(stem), str(ext)])


def test_two_raws_sharing_an_existing_stem_sidecar_leave_it_alone(sample, exiftool, service):
    cr2, cr3 = sample("CanonRaw.cr2"), sample("CanonRaw.cr3")
    shared = cr2.parent / "CanonRaw.xmp"
    _lightroom_sidecar(exiftool, shared)
    digest = sha256(shared)
    res = write_files(
        [WriteItem(str(cr2), ["awe"]), WriteItem(str(cr3), ["fear"])], service=service
    )
    assert [r.targets for r in res.results] == [[str(cr2) + ".xmp"], [str(cr3) + ".xmp"]]
    assert sha256(shared) == digest
    assert [m.moods for m in read_moods([cr2, cr3], service=service)] == [["awe"], ["fear"]]


def test_shared_stem_message_says_why(sample, service):
    cr2, _cr3 = sample("CanonRaw.cr2"), sample("CanonRaw.cr3")
    res = write_files([WriteItem(str(cr2), ["awe"])], service=service)
    r = res.results[0]
    assert r.targets == [str(cr2) + ".xmp"]
    assert r.note and "CanonRaw.cr3" in r.note and "CanonRaw.xmp" in r.note


def test_jpeg_never_reads_a_stem_sidecar(make_image, exiftool, service):
    jpg = make_image("IMG_0002.JPG")
    subprocess.run(
        [
            exiftool,
            "-q",
            "-XMP-lr:HierarchicalSubject=Mood|Fear",
            os.fspath(jpg.parent / "IMG_0002.xmp"),
        ],
        check=True,
    )
    assert read_moods([jpg], service=service)[0].moods == []


def test_two_raws_with_one_stem(sample, service):
    cr2, cr3 = sample("CanonRaw.cr2"), sample("CanonRaw.cr3")
    write_files([WriteItem(str(cr2), ["awe"]), WriteItem(str(cr3), ["fear"])], service=service)
    assert not (cr2.parent / "CanonRaw.xmp").exists()
    assert exiv2_read(str(cr2) + ".xmp")["XMP-dc:Subject"] == ["Awe"]
    assert exiv2_read(str(cr3) + ".xmp")["XMP-dc:Subject"] == ["Fear"]
    assert [m.moods for m in read_moods([cr2, cr3], service=service)] == [["awe"], ["fear"]]


def test_dng_holds_its_xmp_inside(sample, service):
    dng = sample("DNG.dng")
    res = write_files([WriteItem(str(dng), ["contentment"])], service=service)
    assert res.written == 1, res.results[0].error
    assert res.results[0].targets == [str(dng)]
    assert not [f for f in os.listdir(dng.parent) if f.endswith(".xmp")]
    # (exiv2 refuses this sample's Canon maker notes, so exiftool reads it back)
    assert et_read(dng, "XMP-lr:HierarchicalSubject")["XMP-lr:HierarchicalSubject"] == [
        "Mood|Contentment"
    ]
    assert read_moods([dng], service=service)[0].moods == ["contentment"]


def test_read_only_fallback_sidecar_is_kept_in_step(make_image, service):
    path = make_image("locked.jpg")
    os.chmod(path, 0o444)
    res = write_files(
        [WriteItem(str(path), ["awe"])], WriteSettings(readonly="sidecar"), service=service
    )
    side = str(path) + ".xmp"
    assert res.results[0].targets == [side]
    os.chmod(path, 0o644)
    res = write_files([WriteItem(str(path), ["fear"], added=res.results[0].added)], service=service)
    assert res.written == 1, res.results[0].error
    assert exiv2_read(path)["XMP-dc:Subject"] == ["Fear"]
    assert exiv2_read(side)["XMP-dc:Subject"] == [
        "Fear"
    ]  # the sidecar left by the fallback follows the file
    assert read_moods([path], service=service)[0].moods == ["fear"]


def test_lone_raw_keeps_lightroom_name(sample, service):
    raw = sample("CanonRaw.cr2")
    digest = sha256(raw)
    res = write_files([WriteItem(str(raw), ["awe"])], service=service)
    assert res.results[0].targets == [str(raw.with_suffix(".xmp"))]
    assert sha256(raw) == digest


def test_import_on_scan_gives_the_raw_its_mood_not_the_jpeg(sample, make_image, tmp_path, service):
    """The scan-time import (what `scan` runs) reads the same sidecar rule."""
    from moodtagger.core.catalog import Catalog
    from moodtagger.core.metadata import import_file_moods
    from moodtagger.core.scanner import scan

    nef = sample("Nikon.nef", "IMG_0001.NEF")
    jpg = make_image("IMG_0001.JPG")
    assert write_files([WriteItem(str(nef), ["fear"])], service=service).written == 1
    with Catalog(tmp_path / "c.db") as cat:
        scan(cat, [tmp_path], thumbnails=False)
        rows = [cat.photos.by_path(nef), cat.photos.by_path(jpg)]
        assert import_file_moods(cat, rows, service=service) == 1
        assert cat.choices.get(rows[0].id)[0] == ["fear"]
        assert cat.choices.get(rows[1].id) is None
