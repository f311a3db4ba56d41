"""Bad input never stops a run: every case is a per-file error stored in the catalog and
reported by the CLI, the other files are still indexed, and the exit status says so."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog
from moodtagger.core.scanner import scan


def _zero_byte(lib: Path, make_image) -> Path:
    p = lib / "empty.jpg"
    p.write_bytes(b"")
    return p


def _truncated(lib: Path, make_image) -> Path:
    good = make_image("full.jpg", size=(400, 300), root=lib.parent)
    p = lib / "truncated.jpg"
    p.write_bytes(good.read_bytes()[:3000])
    return p


def _corrupt(lib: Path, make_image) -> Path:
    good = make_image("full.png", size=(200, 150), root=lib.parent).read_bytes()
    p = lib / "corrupt.png"
    p.write_bytes(good[:60] + bytes(b ^ 0x5A for b in good[60:]))  # header fine, data garbage
    return p


def _not_an_image(lib: Path, make_image) -> Path:
    p = lib / "letter.jpeg"
    p.write_text("Dear Sir or Madam, this is a text file with an image extension.\n" * 20)
    return p


def _bomb(lib: Path, make_image) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    p = lib / "bomb.png"
    ihdr = struct.pack(">IIBBBBB", 200_000, 200_000, 8, 2, 0, 0, 0)  # 40 gigapixels
    p.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )
    return p


def _raw_without_preview(lib: Path, make_image) -> Path:
    p = lib / "broken.nef"
    p.write_bytes(b"II*\x00" + os.urandom(2000))  # TIFF-like header, no preview anywhere
    return p


CASES: dict[str, tuple[Callable[[Path, object], Path], str]] = {
    "zero-byte": (_zero_byte, "empty file"),
    "truncated": (_truncated, "truncated"),
    "corrupt": (_corrupt, "corrupt"),
    "not-an-image": (_not_an_image, "not an image"),
    "decompression-bomb": (_bomb, "pixel"),
    "raw-without-preview": (_raw_without_preview, "preview"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_file_becomes_a_stored_error(
    case: str, catalog: Catalog, make_image, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    good = make_image("good.jpg", root=lib)
    make, message = CASES[case]
    bad = make(lib, make_image)
    s = scan(catalog, [lib])
    assert s.new == 2 and [p for p, _ in s.errors] == [str(bad)]
    assert message in s.errors[0][1]
    row = catalog.photos.by_path(bad)
    assert row.status == "error" and message in row.error
    assert catalog.photos.by_path(good).status == "ok"
    # an unchanged bad file is not decoded again, and it is not reported as a new error
    assert scan(catalog, [lib]).nothing_changed


def test_file_vanishing_mid_scan(catalog: Catalog, make_image, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    make_image("stays.jpg", root=lib)
    goes = make_image("goes.jpg", root=lib, seed=1)

    def progress(done: int, total: int) -> None:
        if done == 0:  # listed, not decoded yet: the file disappears now
            goes.unlink()

    s = scan(catalog, [lib], progress=progress, workers=1)
    assert [(p, "vanished" in e) for p, e in s.errors] == [(str(goes), True)]
    assert catalog.photos.by_path(lib / "stays.jpg").status == "ok"
    later = scan(catalog, [lib])
    assert later.missing == 1 and catalog.photos.by_path(goes).status == "missing"


STRANGE_NAMES = [
    b"caf\xe9-latin1.jpg",
    b"-starts-with-dash.jpg",
    b"new\nline.jpg",
    b"tab\tand space .png",
]


def test_strange_names_are_indexed_and_listed(
    catalog: Catalog, make_image, tmp_path: Path, capsysbinary
) -> None:
    lib = tmp_path / "lib"
    for i, name in enumerate(STRANGE_NAMES):
        make_image(name, root=lib, seed=i)
    s = scan(catalog, [lib])
    assert (s.new, s.errors) == (len(STRANGE_NAMES), [])
    stored = sorted(os.fsencode(p.path) for p in catalog.photos.all())
    assert stored == sorted(os.path.join(os.fsencode(lib), n) for n in STRANGE_NAMES)
    assert scan(catalog, [lib]).nothing_changed

    db = str(catalog.path)
    assert main(["list", "--catalog", db]) == 0
    out = capsysbinary.readouterr().out.decode()
    assert out.count("\n") == len(STRANGE_NAMES)  # one line per photo, newline name escaped
    assert "caf\\xe9-latin1.jpg" in out and "new\\nline.jpg" in out

    assert main(["export", "--catalog", db, "--format", "csv"]) == 0
    raw = capsysbinary.readouterr().out
    assert b"caf\xe9-latin1.jpg" in raw  # CSV carries the original bytes
    import csv
    import io

    rows = list(csv.reader(io.StringIO(raw.decode("utf-8", "surrogateescape"))))
    assert len(rows) == 1 + len(STRANGE_NAMES)
    assert {os.path.basename(os.fsencode(r[0])) for r in rows[1:]} == set(STRANGE_NAMES)


def test_bad_names_with_bad_content_reported_by_cli(make_image, tmp_path: Path, capsys) -> None:
    lib = tmp_path / "lib"
    make_image("fine.jpg", root=lib)
    for name in (b"-bad\xff.jpg", b"bad\nname.png"):
        with open(os.path.join(os.fsencode(lib), name), "wb") as fh:
            fh.write(b"not an image at all")
    db = str(tmp_path / "c.db")
    assert main(["scan", "--no-predict", "--catalog", db, str(lib)]) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 2 and all("not an image" in ln for ln in lines)
    assert any("-bad\\xff.jpg" in ln for ln in lines) and any(
        "bad\\nname.png" in ln for ln in lines
    )
    assert main(["list", "--errors", "--catalog", db]) == 0
    assert capsys.readouterr().out.count("not an image") == 2


def test_every_bad_case_in_one_cli_run(make_image, tmp_path: Path, capsys) -> None:
    lib = tmp_path / "lib"
    make_image("good.jpg", root=lib)
    for make, _ in CASES.values():
        make(lib, make_image)
    db = str(tmp_path / "c.db")
    assert main(["scan", "--no-predict", "--catalog", db, "--json", str(lib)]) == 1
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["scan"]["new"] == 1 + len(CASES)
    assert len(result["scan"]["errors"]) == len(CASES)
    # nothing changed since: no new errors are reported, the exit status is clean
    assert main(["scan", "--no-predict", "--catalog", db, str(lib)]) == 0


def _without_root_powers() -> list[str]:
    """A command prefix under which root obeys file permissions (it reads anything otherwise)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip(
            "running as root and util-linux 'setpriv' is missing: cannot make a file unreadable"
        )
    drop = "-dac_override,-dac_read_search"
    return [setpriv, f"--inh-caps={drop}", f"--bounding-set={drop}"]


def test_unreadable_file_and_folder(make_image, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    make_image("ok.jpg", root=lib)
    secret = make_image("secret.jpg", root=lib, seed=1)
    make_image("locked/inside.jpg", root=lib, seed=2)
    os.chmod(secret, 0o000)
    os.chmod(lib / "locked", 0o000)
    db = tmp_path / "c.db"
    try:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        proc = subprocess.run(
            [
                *_without_root_powers(),
                sys.executable,
                "-m",
                "moodtagger",
                "scan",
                "--no-predict",
                "--catalog",
                str(db),
                str(lib),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        os.chmod(lib / "locked", 0o755)
    assert proc.returncode == 1, proc.stderr
    assert "secret.jpg: permission denied" in proc.stderr
    assert "locked: cannot list folder" in proc.stderr
    assert proc.stdout.startswith("2 new") and "2 errors" in proc.stdout
    with Catalog(db) as cat:
        assert cat.photos.by_path(secret).error == "permission denied"
        assert cat.photos.by_path(lib / "ok.jpg").status == "ok"
        os.chmod(secret, 0o644)  # fixed permissions do not change the mtime: retried anyway
        s = scan(cat, [lib])
        assert (s.changed, s.new, s.errors) == (1, 1, [])  # secret.jpg, and locked/inside.jpg
        assert cat.photos.by_path(secret).status == "ok"


def test_list_errors_shows_failed_writes_with_their_reason(
    make_image, tmp_path: Path, capsys
) -> None:
    """Issue 24 item 5: `list --errors` listed only unreadable files, not failed writes."""
    import json

    lib = tmp_path / "lib"
    make_image("fine.jpg", root=lib)
    locked = make_image("locked.jpg", root=lib, seed=1)
    db = str(tmp_path / "c.db")
    assert main(["scan", "-q", "--no-predict", "--catalog", db, str(lib)]) == 0
    os.chmod(locked, 0o444)
    assert main(["write", "-q", "--catalog", db, "--mood", "awe", str(lib)]) == 1
    capsys.readouterr()
    assert main(["list", "--errors", "--catalog", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {locked}: "), lines
    assert "read-only" in lines[0]
    assert main(["list", "--errors", "--json", "--catalog", db]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["path"] == str(locked) and "read-only" in item["error"]
    # written once the file can be written: no longer an error
    os.chmod(locked, 0o644)
    assert main(["write", "-q", "--catalog", db]) == 0
    assert main(["list", "--errors", "--catalog", db]) == 0
    assert capsys.readouterr().out == ""


def test_raw_without_a_decodable_preview_whose_sidecar_was_written_is_written(
    shared_data: Path, tmp_path: Path, capsys
) -> None:
    """Issue 24 item 5: the RAW cannot be decoded (no suggestion), but its chosen mood is in
    its XMP sidecar: it is 'written', not 'failed'; an unwritten one stays 'failed'."""
    import json

    lib = tmp_path / "lib"
    lib.mkdir()
    raw, other = lib / "Nikon.nef", lib / "DNG.dng"
    for f in (raw, other):
        shutil.copy(shared_data / "exiftool-test-images" / f.name, f)
    db = str(tmp_path / "c.db")
    assert main(["scan", "-q", "--no-predict", "--catalog", db, str(lib)]) == 1
    assert main(["write", "-q", "--catalog", db, "--mood", "awe", str(raw)]) == 0
    assert (lib / "Nikon.xmp").exists()
    capsys.readouterr()
    assert main(["list", "--json", "--catalog", db]) == 0
    state = {r["path"]: r["state"] for r in json.loads(capsys.readouterr().out)}
    assert state == {str(raw): "written", str(other): "failed"}
    assert main(["list", "--state", "written", "--catalog", db]) == 0  # the grid's rule too
    out = capsys.readouterr().out
    assert str(raw) in out and str(other) not in out
    assert main(["list", "--errors", "--catalog", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {other}: ") and "preview" in lines[0]
