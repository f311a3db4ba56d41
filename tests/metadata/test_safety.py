"""Sidecars, read-only files, injection attempts, a hung or dead exiftool."""

from __future__ import annotations

import os
import shutil
import stat
import threading
import time

import pytest

from moodtagger.core.metadata import (
    ExifToolError,
    ExifToolService,
    UnsafeArgument,
    WriteItem,
    WriteSettings,
    read_moods,
    write_files,
)

from .conftest import exiv2_read, sha256

RAWS = ["CanonRaw.cr2", "Nikon.nef"]  # DNG holds its XMP inside (test_sidecar_naming)


@pytest.fixture
def raw_copy(shared_data, tmp_path):
    src = shared_data / "exiftool-test-images"

    def copy(name: str):
        if not (src / name).is_file():
            pytest.fail(f"{src / name} is missing from ../shared")
        dst = tmp_path / name
        shutil.copyfile(src / name, dst)
        return dst

    return copy


@pytest.mark.parametrize("name", RAWS)
def test_raw_gets_a_sidecar_and_stays_byte_identical(name, raw_copy, service):
    raw = raw_copy(name)
    digest = sha256(raw)
    res = write_files([WriteItem(str(raw), ["awe"])], service=service)
    assert res.written == 1, res.results[0].error
    sidecar = raw.with_suffix(".xmp")  # Lightroom naming by default
    assert res.results[0].targets == [str(sidecar)]
    assert sha256(raw) == digest, "the RAW file itself must never change"
    ex = exiv2_read(sidecar)
    assert ex["XMP-dc:Subject"] == ["Awe"] and ex["XMP-lr:HierarchicalSubject"] == ["Mood|Awe"]
    assert read_moods([raw], service=service)[0].moods == ["awe"]
    # idempotent, then replaced
    assert write_files([WriteItem(str(raw), ["awe"])], service=service).unchanged == 1
    # (a caller without a catalog carries the record of what moodtagger added itself)
    write_files([WriteItem(str(raw), ["fear"], added=res.results[0].added)], service=service)
    assert exiv2_read(sidecar)["XMP-dc:Subject"] == ["Fear"]


def test_sidecar_naming_setting_and_both_are_read(raw_copy, service, exiftool):
    import subprocess

    raw = raw_copy("CanonRaw.cr2")
    res = write_files([WriteItem(str(raw), ["awe"])], WriteSettings(sidecar="ext"), service=service)
    assert res.results[0].targets == [str(raw) + ".xmp"]
    assert not raw.with_suffix(".xmp").exists()
    # another tool wrote a Lightroom-style sidecar too: both are read, both kept in step
    lr = raw.with_suffix(".xmp")
    subprocess.run(
        [
            exiftool,
            "-q",
            "-XMP-lr:HierarchicalSubject=Mood|Sadness",
            "-XMP-dc:Subject=Sadness",
            "-XMP-dc:Subject=Rain",
            str(lr),
        ],
        check=True,
    )
    assert read_moods([raw], service=service)[0].moods == ["awe", "sadness"]
    write_files(
        [WriteItem(str(raw), ["contentment"], added=res.results[0].added)],
        WriteSettings(sidecar="ext"),
        service=service,
    )
    # the other tool's Mood|Sadness is replaced; its flat "Sadness" is not ours (no record)
    assert sorted(exiv2_read(lr)["XMP-dc:Subject"]) == ["Contentment", "Rain", "Sadness"]
    assert exiv2_read(lr)["XMP-lr:HierarchicalSubject"] == ["Mood|Contentment"]
    assert exiv2_read(str(raw) + ".xmp")["XMP-dc:Subject"] == ["Contentment"]


def test_read_only_file_error_or_sidecar(make_image, service):
    path = make_image("locked.jpg")
    digest = sha256(path)
    os.chmod(path, 0o444)
    res = write_files([WriteItem(str(path), ["awe"])], service=service)
    assert res.failed == 1 and "read-only" in res.results[0].error
    res = write_files(
        [WriteItem(str(path), ["awe"])], WriteSettings(readonly="sidecar"), service=service
    )
    assert res.written == 1, res.results[0].error
    assert sha256(path) == digest
    assert exiv2_read(str(path) + ".xmp")["XMP-dc:Subject"] == [
        "Awe"
    ]  # photo.jpg.xmp: never shared
    assert read_moods([path], service=service)[0].moods == ["awe"]


def test_read_only_folder_is_a_clear_error(make_image, service):
    path = make_image("ro/photo.jpg")
    digest = sha256(path)
    os.chmod(path.parent, 0o555)
    try:
        for settings in (WriteSettings(), WriteSettings(readonly="sidecar")):
            res = write_files([WriteItem(str(path), ["awe"])], settings, service=service)
            assert res.failed == 1 and "folder is read-only" in res.results[0].error
    finally:
        os.chmod(path.parent, 0o755)
    assert sha256(path) == digest


def test_permissions_are_kept(make_image, service):
    path = make_image("perm.jpg")
    os.chmod(path, 0o640)
    assert write_files([WriteItem(str(path), ["awe"])], service=service).written == 1
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_symlink_writes_the_target_and_keeps_the_link(make_image, tmp_path, service):
    target = make_image("real/photo.jpg")
    link = tmp_path / "link.jpg"
    link.symlink_to(target)
    assert write_files([WriteItem(str(link), ["awe"])], service=service).written == 1
    assert link.is_symlink()
    assert exiv2_read(target)["XMP-dc:Subject"] == ["Awe"]


# -- no injection ----------------------------------------------------------------------------
def test_file_name_starting_with_dash(make_image, service, monkeypatch):
    path = make_image("-o evil.jpg")
    monkeypatch.chdir(path.parent)
    res = write_files([WriteItem("-o evil.jpg", ["awe"])], service=service)
    assert res.written == 1, res.results[0].error
    assert exiv2_read(path)["XMP-dc:Subject"] == ["Awe"]
    assert sorted(os.listdir(path.parent)) == ["-o evil.jpg"]


def test_shell_characters_are_just_characters(make_image, tmp_path, service):
    path = make_image("$(touch pwned); rm -rf x `id` & a'b\".jpg")
    assert write_files([WriteItem(str(path), ["awe"])], service=service).written == 1
    assert not (tmp_path / "pwned").exists()
    assert exiv2_read(path)["XMP-dc:Subject"] == ["Awe"]


def test_control_characters_in_file_names_fail_that_file_only(make_image, service):
    bad = make_image("line\nbreak.jpg")
    good = make_image("good.jpg")
    res = write_files(
        [WriteItem(str(bad), ["awe"]), WriteItem(str(good), ["awe"])], service=service
    )
    by = {os.path.basename(r.path): r for r in res.results}
    assert by["line\nbreak.jpg"].status == "failed"
    assert "control characters" in by["line\nbreak.jpg"].error
    assert by["good.jpg"].status == "written"
    assert exiv2_read(bad)["XMP-dc:Subject"] == []
    assert read_moods([bad], service=service)[0].error


@pytest.mark.parametrize(
    "root", ["Mood\n-o", "Mood\r", "Mo\x00od", "Mood\t", "Mood|x", "Mo/od", ""]
)
def test_unsafe_keyword_roots_are_refused(root):
    with pytest.raises(ValueError):
        WriteSettings(root=root)


def test_unknown_moods_and_values_with_newlines_are_refused(make_image, service):
    path = make_image("v.jpg")
    res = write_files([WriteItem(str(path), ["awe\n-o/tmp/x"])], service=service)
    assert res.failed == 1
    with pytest.raises(UnsafeArgument):
        service.execute("-XMP-dc:Subject=a\n-o", str(path))
    assert exiv2_read(path)["XMP-dc:Subject"] == []


# -- watchdog ---------------------------------------------------------------------------------
def test_watchdog_kills_a_hung_exiftool_and_recovers(tmp_path):
    fifo = tmp_path / "hang.jpg"
    os.mkfifo(fifo)  # opening a FIFO with no writer blocks exiftool forever
    with ExifToolService(timeout=60) as svc:
        assert svc.execute("-ver").stdout.strip()
        first = svc.pid
        t0 = time.monotonic()
        with pytest.raises(ExifToolError, match="restarted"):
            svc.execute("-j", str(fifo), timeout=2)
        assert time.monotonic() - t0 < 20
        assert svc.execute("-ver").stdout.strip(), "the next request gets a fresh exiftool"
        assert svc.pid != first and svc.restarts == 1


def test_dead_exiftool_is_restarted(make_image):
    import signal

    path = make_image("d.jpg")
    with ExifToolService() as svc:
        svc.execute("-ver")
        os.kill(svc.pid, signal.SIGKILL)
        time.sleep(0.2)
        res = write_files([WriteItem(str(path), ["awe"])], service=svc)
        assert res.written == 1


def test_many_threads_share_one_exiftool(make_image):
    paths = [make_image(f"t{i}.jpg", seed=i) for i in range(8)]
    with ExifToolService() as svc:
        pids = set()
        errors: list[BaseException] = []

        def work(p):
            try:
                write_files([WriteItem(str(p), ["awe"])], service=svc)
                pids.add(svc.pid)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(p,)) for p in paths]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and len(pids) == 1
    assert all(m.moods == ["awe"] for m in read_moods(paths))
