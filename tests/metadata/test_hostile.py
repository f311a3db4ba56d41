"""Issue 12: writing survives hostile files, other programs and full disks, and says so."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from moodtagger.cli import main
from moodtagger.core.metadata import (
    ExifToolError,
    ExifToolService,
    WriteItem,
    WriteSettings,
    read_moods,
    write_files,
)
from moodtagger.core.metadata.writer import Writer

from .conftest import exiv2_read, sha256

WRAPPER = str(Path(__file__).with_name("exiftool_wrapper.py"))
ROOT = Path(__file__).resolve().parents[2]


def hidden(folder) -> list[str]:
    return [f for f in os.listdir(folder) if f.startswith(".")]


def huge_png(path: Path, side: int = 30000) -> None:
    """A 30000x30000 1-bit PNG (a few hundred KB on disk)."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    comp = zlib.compressobj(9)
    data = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_bad_files_do_not_abort_the_batch(shared_data, make_image, tmp_path, capsys):
    """12.1: a 238-byte name, exiftool's QuickTime.heic and a 30000x30000 PNG are per-file results."""
    lib = tmp_path / "lib"
    long = make_image("a" * 234 + ".jpg", root=lib)
    shutil.copyfile(shared_data / "exiftool-test-images" / "QuickTime.heic", lib / "b.heic")
    huge_png(lib / "c.png")
    last = make_image("z.jpg", root=lib, seed=4)
    rc = main(["write", "--catalog", str(tmp_path / "c.db"), str(lib), "--mood", "awe"])
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    assert exiv2_read(last)["XMP-dc:Subject"] == ["Awe"], "the files after the bad ones are written"
    assert exiv2_read(long)["XMP-dc:Subject"] == ["Awe"], "a 238-byte name is a legal name"
    assert hidden(lib) == [], "temporary copies left behind"
    assert rc in (0, 1)


def test_percent_in_names(make_image, tmp_path, service):
    """12.2: exiftool expands %f/%d in -o; names with % must be written, no copies pile up."""
    paths = [make_image("100%fun.jpg"), make_image("50%d/x%f%%.jpg", seed=2)]
    for _ in range(2):
        res = write_files([WriteItem(str(p), ["awe"]) for p in paths], service=service)
        assert res.failed == 0, [r.error for r in res.results]
    for p in paths:
        assert exiv2_read(p)["XMP-dc:Subject"] == ["Awe"]
        assert hidden(p.parent) == []


def _iptc_raw(path) -> dict:
    import pyexiv2

    img = pyexiv2.Image(os.fspath(path))
    try:
        return img.read_iptc()
    finally:
        img.close()


def test_utf8_iptc_without_marker_is_not_garbled(make_image, exiftool, service):
    """12.3: IPTC already in UTF-8 (no CodedCharacterSet) stays 'Café', not 'CafÃ©'."""
    path = make_image("u.jpg")
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-charset",
            "iptc=UTF8",
            "-IPTC:Keywords=Café",
            "-IPTC:Caption-Abstract=Crème brûlée",
            os.fspath(path),
        ],
        check=True,
    )
    res = write_files([WriteItem(str(path), ["awe"])], service=service)
    assert res.written == 1, res.results[0].error
    iptc = _iptc_raw(path)
    assert sorted(iptc["Iptc.Application2.Keywords"]) == ["Awe", "Café"]
    assert iptc["Iptc.Application2.Caption"] == "Crème brûlée"


def test_mixed_latin1_and_utf8_iptc_converts_only_the_latin1(make_image, exiftool, service):
    """12.3: Latin-1 'Café' is converted, UTF-8 'Crème' (no marker either) is kept as it is."""
    path = make_image("mixed.jpg")
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-charset",
            "iptc=Latin",
            "-IPTC:Keywords=Café",
            os.fspath(path),
        ],
        check=True,
    )
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-charset",
            "iptc=UTF8",
            "-IPTC:Caption-Abstract=Crème",
            os.fspath(path),
        ],
        check=True,
    )
    digest = sha256(path)
    assert digest
    res = write_files([WriteItem(str(path), ["awe"])], service=service)
    assert res.written == 1, res.results[0].error
    iptc = _iptc_raw(path)
    assert iptc["Iptc.Application2.Caption"] == "Crème"
    assert sorted(iptc["Iptc.Application2.Keywords"]) == ["Awe", "Café"]


def _acl_bytes(uid: int) -> bytes:
    # POSIX ACL xattr: version 2, entries (tag, perm, id): USER_OBJ rw, USER uid r, GROUP_OBJ r, MASK r, OTHER -
    ent = [
        (0x01, 6, 0xFFFFFFFF),
        (0x02, 4, uid),
        (0x04, 4, 0xFFFFFFFF),
        (0x10, 4, 0xFFFFFFFF),
        (0x20, 0, 0xFFFFFFFF),
    ]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in ent)


def test_owner_group_xattrs_and_acl_are_kept(make_image, service):
    """12.4 (the test runs as root, as the reporter did)."""
    path = make_image("owned.jpg")
    os.chown(path, 65534, 65534)
    os.chmod(path, 0o640)
    os.setxattr(path, "user.xdg.tags", b"holiday")
    os.setxattr(path, "system.posix_acl_access", _acl_bytes(1234))
    acl = os.getxattr(path, "system.posix_acl_access")
    assert write_files([WriteItem(str(path), ["awe"])], service=service).written == 1
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o640)
    assert os.getxattr(path, "user.xdg.tags") == b"holiday"
    assert os.getxattr(path, "system.posix_acl_access") == acl
    assert exiv2_read(path)["XMP-dc:Subject"] == ["Awe"]


def test_hard_linked_file_is_refused_and_both_names_stay_equal(make_image, tmp_path, service):
    """12.4: policy: a hard-linked photo is not replaced (the other name would keep the old photo)."""
    path = make_image("linked.jpg")
    other = tmp_path / "other-name.jpg"
    os.link(path, other)
    digest = sha256(path)
    res = write_files([WriteItem(str(path), ["awe"])], service=service)
    assert res.failed == 1 and "hard link" in res.results[0].error
    assert sha256(path) == sha256(other) == digest
    assert os.stat(path).st_ino == os.stat(other).st_ino


def test_lost_update_is_detected(make_image, exiftool, service):
    """12.5: another program edits the photo between our read and our rename: not replaced."""
    path = make_image("busy.jpg")

    def other_program(item, temp):
        subprocess.run(
            [
                exiftool,
                "-q",
                "-overwrite_original_in_place",
                "-XMP-dc:Title=theirs",
                os.fspath(path),
            ],
            check=True,
        )

    res = Writer(service=service).write([WriteItem(str(path), ["awe"])], before_write=other_program)
    assert res.failed == 1 and "changed" in res.results[0].error
    assert exiv2_read(path)["XMP-dc:Subject"] == []
    assert hidden(path.parent) == []


def _wrapped(mode: str, **extra: str) -> dict[str, str]:
    from moodtagger.core.tools import exiftool_path

    env = dict(
        os.environ,
        WRAP_REAL=exiftool_path(),
        WRAP_MODE=mode,
        MOODTAGGER_EXIFTOOL=WRAPPER,
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


@pytest.mark.parametrize("mode", ["damage-pixel", "drop-keyword", "change-other", "edit-original"])
def test_verification_that_can_fail(mode, make_image, tmp_path):
    """12.5/12.6: the whole `moodtagger write` with a real exiftool behind a wrapper that damages
    a pixel / drops a keyword / lets another program edit the original: reported failed, the
    original untouched (or holding only the other program's edit), exit 1, no temp files."""
    good = make_image("w.jpg", size=(256, 192))
    digest = sha256(good)
    env = _wrapped(mode, WRAP_KEYWORD="Awe")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "moodtagger",
            "write",
            "--catalog",
            str(tmp_path / "c.db"),
            str(good),
            "--mood",
            "awe",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    msg = out.stdout + out.stderr
    if mode == "edit-original":
        assert "changed" in msg
        assert exiv2_read(good)["XMP-dc:Subject"] == []
    else:
        assert "verification failed" in msg
        assert sha256(good) == digest
    assert hidden(good.parent) == []


def test_watchdog_kills_an_exiftool_hung_at_start_up(tmp_path):
    """12.10: the pid is known while exiftool starts, so a start-up hang is killed too."""
    from moodtagger.core.tools import exiftool_path

    os.environ["WRAP_REAL"] = exiftool_path()
    os.environ["WRAP_MODE"] = "hang-start"
    try:
        with ExifToolService(WRAPPER, timeout=3) as svc:
            t0 = time.monotonic()
            with pytest.raises(ExifToolError):
                svc.execute("-ver")
            assert time.monotonic() - t0 < 15
            pid = svc.pid
        assert pid is None
    finally:
        del os.environ["WRAP_MODE"], os.environ["WRAP_REAL"]
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert WRAPPER not in ps, "the hung exiftool was orphaned"


def test_non_utf8_file_name(make_image, service):
    """12.11: exiftool reports caf\\xe9.jpg as caf?.jpg: results are matched by order."""
    path = make_image(b"caf\xe9.jpg")
    other = make_image("plain.jpg", seed=3)
    res = write_files(
        [WriteItem(str(path), ["awe"]), WriteItem(str(other), ["fear"])], service=service
    )
    assert res.written == 2, [r.error for r in res.results]
    assert [m.moods for m in read_moods([path, other], service=service)] == [["awe"], ["fear"]]


def test_read_of_empty_or_text_file_is_an_error(tmp_path, capsys):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello, not a photo\n")
    assert main(["read", str(tmp_path / "empty.jpg"), str(tmp_path / "text.jpg")]) == 1
    out = capsys.readouterr()
    assert (out.out + out.err).count("error") >= 2


def test_unsearchable_folder_message(make_image, tmp_path):
    """12.11: a folder we may not enter is not 'no such file or folder' (run as an ordinary user)."""
    path = make_image("locked/p.jpg")
    os.chmod(tmp_path, 0o755)
    os.chmod(path.parent, 0o644)  # readable, not searchable
    try:
        # root without the capabilities that bypass file permissions: an ordinary user's view
        out = subprocess.run(
            [
                "setpriv",
                "--bounding-set",
                "-dac_override,-dac_read_search",
                sys.executable,
                "-m",
                "moodtagger",
                "read",
                str(path),
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            timeout=60,
        )
    finally:
        os.chmod(path.parent, 0o755)
    assert out.returncode == 1, out.stderr
    assert "no such file" not in out.stderr and "permission denied" in out.stderr.lower()


def test_disk_full_is_said_in_words(make_image, tmp_path):
    """12.11: a write on a full file system says 'no space left on the device'; original intact."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed for the full-disk test")
    src = make_image("big.jpg", size=(600, 400), quality=98)
    mnt = tmp_path / "small"
    mnt.mkdir()
    size = os.path.getsize(src)
    script = (
        f"mount -t tmpfs -o size={size + 40 * 1024} tmpfs {mnt} && cp {src} {mnt}/p.jpg && "
        f"(head -c {size} /dev/zero > {mnt}/filler || true) && sha256sum {mnt}/p.jpg && "
        f"{sys.executable} -m moodtagger write --catalog {tmp_path}/c.db {mnt}/p.jpg --mood awe; "
        f"echo rc=$?; sha256sum {mnt}/p.jpg; ls -a {mnt}"
    )
    out = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        timeout=120,
    )
    text = out.stdout + out.stderr
    assert "rc=1" in text, text
    assert "no space left on the device" in text, text
    sums = [ln.split()[0] for ln in out.stdout.splitlines() if ln.endswith("/p.jpg")]
    assert len(sums) == 2 and sums[0] == sums[1], text
    assert ".moodtagger" not in text.split("rc=1")[1], "temp file left on the full disk"


def test_undecodable_pixels_without_image_hash_fail_that_file_only(
    shared_data, make_image, tmp_path, exiftool
):
    """12.1: where exiftool gives no ImageDataHash the pixels are decoded; QuickTime.heic (EOFError)
    and a 30000x30000 PNG (DecompressionBombError) are that file's error, not the batch's."""
    heic = tmp_path / "q.heic"
    shutil.copyfile(shared_data / "exiftool-test-images" / "QuickTime.heic", heic)
    huge = tmp_path / "huge.png"
    huge_png(huge)
    good = make_image("good.jpg")
    digests = {p: sha256(p) for p in (heic, huge)}
    with ExifToolService(exiftool) as svc:  # version unknown: no ImageDataHash, pixels decoded
        res = write_files([WriteItem(str(p), ["awe"]) for p in (heic, huge, good)], service=svc)
    by = {Path(r.path).name: r for r in res.results}
    assert by["good.jpg"].status == "written"
    for name in ("q.heic", "huge.png"):
        assert by[name].status == "failed" and "cannot be decoded" in by[name].error
    assert all(sha256(p) == d for p, d in digests.items())
    assert hidden(tmp_path) == []


def test_a_keyword_too_long_for_iptc_is_named_in_one_sentence(make_image, exiftool, service):
    """Issue 23.6: IPTC holds 64 bytes per keyword; a longer one (synced from XMP into a file
    that has IPTC) is named with the limit and what to do — not "verification failed"."""
    path = make_image("long.jpg")
    long_kw = "Sonnenuntergang über dem Wattenmeer bei Ebbe, fotografiert im Oktober"
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-IPTC:Keywords=short",
            f"-XMP-dc:Subject={long_kw}",
            "-XMP-dc:Subject=short",
            str(path),
        ],
        check=True,
    )
    digest = sha256(path)
    res = write_files([WriteItem(str(path), ["awe"])], service=service).results[0]
    assert res.status == "failed"
    assert "verification failed" not in res.error
    assert repr(long_kw) in res.error and "64 bytes" in res.error and "--field" in res.error
    assert sha256(path) == digest and not hidden(path.parent)
    # without IPTC it is written
    fields = ("XMP-dc:Subject", "XMP-lr:HierarchicalSubject")
    assert (
        write_files(
            [WriteItem(str(path), ["awe"])], WriteSettings(fields=fields), service=service
        ).written
        == 1
    )


def test_pixel_verification_stays_inside_the_pixel_budget(make_image, monkeypatch):
    """Issue 23.6: with an exiftool without ImageDataHash (12.57) the written file is checked by
    decoding pixels; those decodes take the decoding pixel budget (one image at a time)."""
    from moodtagger.core import imaging

    old = "/usr/bin/exiftool"
    monkeypatch.setenv("MOODTAGGER_EXIFTOOL", old)
    budget = imaging.PixelBudget(1000)  # smaller than one 64x48 image: one at a time
    monkeypatch.setattr(imaging.files, "PIXELS", budget)
    paths = [make_image(f"p{i}.png", seed=i) for i in range(3)]
    from moodtagger.core.metadata import ExifToolService

    svc = ExifToolService(old)
    try:
        assert svc.version is None or svc.version < (12, 58)
        res = write_files([WriteItem(str(p), ["awe"]) for p in paths], service=svc)
    finally:
        svc.close()
    assert res.written == 3, [r.error for r in res.results]
    assert budget.peak == 1000 and budget.in_use == 0
