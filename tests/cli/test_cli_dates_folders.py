"""Issue 26 items 1-2 from the command line: `list --sort date` follows the capture date (EXIF,
XMP, else the file time first seen, which a write never moves), `list --from/--to`, and a scan
of a folder inside (or above) a library folder is not a second library folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog


def dated_jpeg(path: Path, taken: str | None, seed: int) -> Path:
    """A real JPEG; ``taken`` ("YYYY:MM:DD HH:MM:SS") goes into EXIF DateTimeOriginal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), "RGB")
    kwargs = {}
    if taken:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = taken
        kwargs["exif"] = exif.tobytes()
    im.save(path, "JPEG", quality=90, **kwargs)
    return path


def set_mtime(path: Path, when: float) -> None:
    os.utime(path, (when, when))


def listed(db: str, capsys, *args: str) -> list[str]:
    capsys.readouterr()
    assert main(["list", "--catalog", db, "--json", *args]) == 0
    return [os.path.basename(r["path"]) for r in json.loads(capsys.readouterr().out)]


def test_sort_by_date_uses_the_capture_date_not_the_file_time(tmp_path: Path, capsys) -> None:
    lib, db = tmp_path / "lib", str(tmp_path / "c.db")
    dates = {"a.jpg": "2019:05:01 08:00:00", "b.jpg": "2020:07:02 09:30:00", "c.jpg": None}
    for i, (name, taken) in enumerate(dates.items()):
        dated_jpeg(lib / name, taken, i)
    # file times in the opposite order of the capture dates; c (no EXIF) is the newest file
    set_mtime(lib / "a.jpg", 1_700_000_300)
    set_mtime(lib / "b.jpg", 1_700_000_200)
    set_mtime(lib / "c.jpg", 1_700_000_400)
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    assert listed(db, capsys, "--sort", "date") == ["a.jpg", "b.jpg", "c.jpg"]
    assert listed(db, capsys, "--sort", "date", "--desc") == ["c.jpg", "b.jpg", "a.jpg"]


def test_first_seen_file_time_survives_a_write_and_a_rescan(tmp_path: Path, capsys) -> None:
    lib, db = tmp_path / "lib", str(tmp_path / "c.db")
    for i, name in enumerate(["old.jpg", "mid.jpg", "new.jpg"]):  # no EXIF date at all
        dated_jpeg(lib / name, None, i)
        set_mtime(lib / name, 1_600_000_000 + 1000 * i)
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    assert listed(db, capsys, "--sort", "date") == ["old.jpg", "mid.jpg", "new.jpg"]
    # a write without --keep-date makes old.jpg the newest file ...
    assert main(["write", "-q", "--catalog", db, str(lib / "old.jpg"), "--mood", "fear"]) == 0
    assert os.stat(lib / "old.jpg").st_mtime > 1_600_002_000
    assert listed(db, capsys, "--sort", "date") == ["old.jpg", "mid.jpg", "new.jpg"]
    # ... and neither a rescan nor another program touching the file moves it
    set_mtime(lib / "mid.jpg", 1_900_000_000)
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    assert listed(db, capsys, "--sort", "date") == ["old.jpg", "mid.jpg", "new.jpg"]
    # a real capture date found later replaces the first-seen file time
    dated_jpeg(lib / "new.jpg", "2001:01:01 00:00:00", 2)
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    assert listed(db, capsys, "--sort", "date") == ["new.jpg", "old.jpg", "mid.jpg"]


def test_list_from_to_in_the_photos_local_time(tmp_path: Path, capsys) -> None:
    lib, db = tmp_path / "lib", str(tmp_path / "c.db")
    dated_jpeg(lib / "a.jpg", "2020:01:01 10:00:00", 0)
    dated_jpeg(lib / "b.jpg", "2021:06:15 23:30:00", 1)  # late evening: still June 15th
    dated_jpeg(lib / "c.jpg", "2022:03:01 00:00:00", 2)
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(lib)]) == 0
    assert listed(db, capsys, "--from", "2021-06-15", "--to", "2021-06-15") == ["b.jpg"]
    assert listed(db, capsys, "--from", "2021-01-01") == ["b.jpg", "c.jpg"]
    assert listed(db, capsys, "--to", "2022-02-28") == ["a.jpg", "b.jpg"]
    assert listed(db, capsys, "--from", "2022-03-01", "--to", "2022-03-01") == ["c.jpg"]
    for bad in (["--from", "2021-13-01"], ["--to", "15.6.2021"], ["--from", "yesterday"]):
        with pytest.raises(SystemExit) as exc:
            main(["list", "--catalog", db, *bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "YYYY-MM-DD" in err and "Traceback" not in err
    assert main(["list", "--catalog", db, "--from", "2022-01-01", "--to", "2021-01-01"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--from" in err and "--to" in err


def _roots(db: str) -> list[str]:
    with Catalog(db) as cat:
        return [p for _i, p in cat.photos.roots()]


def test_a_scan_inside_a_library_folder_is_not_a_second_root(tmp_path: Path, capsys) -> None:
    lib, db = tmp_path / "lib", str(tmp_path / "c.db")
    for i, name in enumerate(["a.jpg", "b.jpg", "RAW/c.jpg", "RAW/d.jpg", "RAW/x/e.jpg"]):
        dated_jpeg(lib / name, None, i)
    assert main(["scan", "--no-predict", "--catalog", db, str(lib)]) == 0
    assert capsys.readouterr().out.startswith("5 new")
    assert main(["scan", "--no-predict", "--catalog", db, str(lib / "RAW")]) == 0
    assert capsys.readouterr().out.startswith("nothing changed (3 photos unchanged)")
    assert _roots(db) == [str(lib)]
    # rescanning everything (the app's F5 scans every root) counts each photo once
    assert main(["scan", "--no-predict", "--catalog", db, str(lib), str(lib / "RAW")]) == 0
    assert capsys.readouterr().out.startswith("nothing changed (5 photos unchanged)")
    assert main(["list", "--catalog", db]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 5
    assert _roots(db) == [str(lib)]


def test_a_scan_of_a_parent_folder_takes_in_the_roots_below(tmp_path: Path, capsys) -> None:
    lib, db = tmp_path / "lib", str(tmp_path / "c.db")
    for i, name in enumerate(["2020/a.jpg", "2021/b.jpg", "2021/c.jpg", "top.jpg"]):
        dated_jpeg(lib / name, None, i)
    main(["scan", "--no-predict", "-q", "--catalog", db, str(lib / "2020"), str(lib / "2021")])
    assert _roots(db) == [str(lib / "2020"), str(lib / "2021")]
    assert main(["scan", "--no-predict", "--catalog", db, str(lib)]) == 0
    assert capsys.readouterr().out.startswith("1 new, 0 changed, 3 unchanged")
    assert _roots(db) == [str(lib)]
    with Catalog(db) as cat:
        (root_id,) = [i for i, _p in cat.photos.roots()]
        assert {p.id for p in cat.photos.all(root_id=root_id)} == {p.id for p in cat.photos.all()}
