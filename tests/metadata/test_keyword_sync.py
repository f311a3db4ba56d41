"""Issue 11.1 / 11.6: after a write every keyword field the file has holds the photo's keywords
(union over XMP-dc:Subject, IPTC:Keywords, XPKeywords and the hierarchical leaves) plus the mood;
IPTC-IIM and XPKeywords are kept in step where they exist and never created (MWG); a clear
removes only what moodtagger added."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from moodtagger.core.metadata import WriteItem, WriteSettings, read_moods, write_files

from .conftest import et_read, exiv2_read, pixels


@pytest.fixture
def sample(shared_data, tmp_path):
    def copy(name: str):
        dst = tmp_path / name
        shutil.copyfile(shared_data / "exiftool-test-images" / name, dst)
        return dst

    return copy


IPTC_ONLY = {
    "IPTC.jpg": ["ExifTool", "Test", "IPTC"],
    "ExifTool.tif": ["exiftool", "test", "picture"],
}


@pytest.mark.parametrize("name", sorted(IPTC_ONLY))
def test_iptc_only_file_keeps_its_keywords_in_xmp(name, sample, service):
    path = sample(name)
    res = write_files([WriteItem(str(path), ["awe"])], service=service)
    assert res.written == 1, res.results[0].error
    user = IPTC_ONLY[name]
    ex = exiv2_read(path)
    assert sorted(ex["XMP-dc:Subject"]) == sorted(user + ["Awe"])
    assert sorted(ex["IPTC:Keywords"]) == sorted(user + ["Awe"])
    # no flat keyword becomes a top-level entry of a tree (issue 23)
    assert ex["XMP-lr:HierarchicalSubject"] == ["Mood|Awe"]
    assert ex["XMP-digiKam:TagsList"] == ["Mood/Awe"]
    assert ex["EXIF:XPKeywords"] == [], "XPKeywords are not created where the file had none"
    if name.endswith(".jpg"):
        dig = et_read(path, "Photoshop:IPTCDigest", "File:CurrentIPTCDigest")
        assert dig["Photoshop:IPTCDigest"] == dig["File:CurrentIPTCDigest"], (
            "IPTC digest not updated"
        )
    # and read back as the photo's keywords
    assert sorted(read_moods([path], service=service)[0].keywords) == sorted(user + ["Awe"])


def test_photomechanic_union_and_digest(sample, service):
    path = sample("PhotoMechanic.jpg")
    assert write_files([WriteItem(str(path), ["fear"])], service=service).written == 1
    ex = exiv2_read(path)
    assert sorted(ex["IPTC:Keywords"]) == sorted(["Keywords", "one", "three", "two", "Fear"])
    assert sorted(ex["XMP-dc:Subject"]) == sorted(ex["IPTC:Keywords"])


def test_xmp_only_file_gets_no_iptc_or_xp(sample, service):
    path = sample("XMP.jpg")
    before = pixels(path)
    assert write_files([WriteItem(str(path), ["awe"])], service=service).written == 1
    ex = exiv2_read(path)
    assert sorted(ex["XMP-dc:Subject"]) == ["Awe", "ExifTool", "Test", "XMP"]
    assert ex["IPTC:Keywords"] == [] and ex["EXIF:XPKeywords"] == []
    assert (pixels(path) == before).all()


def test_hierarchical_leaves_and_xp_join_every_field(make_image, exiftool, service):
    path = make_image("h.jpg")
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-XMP-lr:HierarchicalSubject=Places|Paris",
            "-EXIF:XPKeywords=Rain",
            os.fspath(path),
        ],
        check=True,
    )
    assert write_files([WriteItem(str(path), ["sadness"])], service=service).written == 1
    ex = exiv2_read(path)
    assert sorted(ex["XMP-dc:Subject"]) == ["Paris", "Rain", "Sadness"]
    assert sorted(ex["EXIF:XPKeywords"]) == ["Paris", "Rain", "Sadness"]
    # the trees hold the user's entries and ours, no flat keyword as a new root (issue 23)
    assert sorted(ex["XMP-lr:HierarchicalSubject"]) == ["Mood|Sadness", "Places|Paris"]
    assert sorted(ex["XMP-digiKam:TagsList"]) == ["Mood/Sadness", "Places/Paris"]
    assert ex["IPTC:Keywords"] == []


def test_clear_removes_only_what_moodtagger_added(make_image, exiftool, service):
    """11.6: a plain 'Awe' the user typed before stays after write awe + clear; one we added goes."""
    typed = make_image("typed.jpg")
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-XMP-dc:Subject=Awe",
            "-XMP-dc:Subject=Sea",
            os.fspath(typed),
        ],
        check=True,
    )
    fresh = make_image("fresh.jpg", seed=2)
    added = {}  # the record of what moodtagger added (a catalog keeps it; here the caller)
    for p in (typed, fresh):
        res = write_files([WriteItem(str(p), ["awe"])], service=service)
        assert res.written == 1
        added[p] = res.results[0].added
    assert sorted(exiv2_read(typed)["XMP-dc:Subject"]) == ["Awe", "Sea"]
    assert exiv2_read(typed)["XMP-lr:HierarchicalSubject"] == ["Mood|Awe"]  # no "Awe" marker
    for p in (typed, fresh):
        assert write_files([WriteItem(str(p), [], added=added[p])], service=service).written == 1
    t = exiv2_read(typed)
    assert sorted(t["XMP-dc:Subject"]) == ["Awe", "Sea"]
    assert t["XMP-lr:HierarchicalSubject"] == []
    assert exiv2_read(fresh)["XMP-dc:Subject"] == []
    assert read_moods([typed, fresh], service=service)[0].moods == []


def test_only_iptc_asked_for_a_file_without_iptc_is_an_error(make_image, service):
    path = make_image("noiptc.jpg")
    res = write_files(
        [WriteItem(str(path), ["awe"])], WriteSettings(fields=("IPTC:Keywords",)), service=service
    )
    assert res.failed == 1 and "only kept in step" in res.results[0].error
