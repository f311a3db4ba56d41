"""`moodtagger write | read | accept` (in-process through main(), real exiftool)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from metadata.conftest import exiv2_read, sha256

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog, Prediction


@pytest.mark.parametrize("sub", ["write", "read", "accept"])
def test_help(sub, capsys):
    with pytest.raises(SystemExit) as exc:
        main([sub, "--help"])
    assert exc.value.code == 0


def test_done_when(make_image, tmp_path, exiftool, capsys):
    """The issue's acceptance check, literally: repeated writes, exiftool shows one of each."""
    path = make_image("some.jpg")
    db = str(tmp_path / "c.db")
    for _ in range(3):
        assert main(["write", "--catalog", db, str(path), "--mood", "awe"]) == 0
    out = subprocess.run(
        [
            exiftool,
            "-s3",
            "-XMP-dc:Subject",
            "-XMP-lr:HierarchicalSubject",
            "-IPTC:Keywords",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert out[:3] == ["Awe", "Mood|Awe", ""]  # no IPTC-IIM is created where the file had none
    assert exiv2_read(path)["XMP-lr:HierarchicalSubject"] == ["Mood|Awe"]
    err = capsys.readouterr().err
    assert "written 1, unchanged 0" in err and "written 0, unchanged 1" in err


def test_dry_run_prints_the_diff_and_changes_nothing(make_image, tmp_path, capsys):
    path = make_image("d.jpg")
    digest = sha256(path)
    db = tmp_path / "c.db"
    assert main(["write", "--catalog", str(db), "--dry-run", str(path), "--mood", "fear"]) == 0
    out = capsys.readouterr().out
    assert (
        "XMP-dc:Subject: - -> Fear" in out and "XMP-lr:HierarchicalSubject: - -> Mood|Fear" in out
    )
    assert sha256(path) == digest
    with Catalog(db) as cat:
        assert cat.photos.count() == 0


def test_dash_file_name_and_json(make_image, tmp_path, monkeypatch, capsys):
    path = make_image("-rf.jpg")
    monkeypatch.chdir(path.parent)
    assert (
        main(
            [
                "write",
                "--catalog",
                str(tmp_path / "c.db"),
                "--json",
                "--mood",
                "sadness",
                "--",
                "-rf.jpg",
            ]
        )
        == 0
    )
    res = json.loads(capsys.readouterr().out)
    assert res["written"] == 1 and res["files"][0]["after"] == ["sadness"]
    assert main(["read", "--json", "--", "-rf.jpg"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["moods"] == ["sadness"]


def test_read_reports_moods_other_keywords_and_errors(make_image, tmp_path, capsys):
    a = make_image("a.jpg")
    assert (
        main(
            [
                "write",
                "-q",
                "--catalog",
                str(tmp_path / "c.db"),
                str(a),
                "--mood",
                "awe",
                "--mood",
                "fear",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["read", str(a), str(tmp_path / "missing.jpg")]) == 1
    cap = capsys.readouterr()
    assert "Awe, Fear" in cap.out and "missing.jpg" in cap.err


def test_usage_errors(make_image, capsys):
    p = make_image("u.jpg")
    assert main(["write", str(p)]) == 2
    assert main(["write", "--mood", "awe"]) == 2
    assert "moodtagger:" in capsys.readouterr().err
    # a name that could be a custom mood is looked up in the catalog (issue 27): exit 2
    assert main(["write", str(p), "--mood", "happy"]) == 2
    assert "unknown mood 'happy'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one that cannot be a mood at all: a usage error
        main(["write", str(p), "--mood", "ha/ppy"])


def test_failures_exit_1_and_the_rest_is_written(make_image, tmp_path, capsys):
    ok, ro = make_image("ok.jpg"), make_image("ro.jpg", seed=2)
    ro.chmod(0o444)
    assert (
        main(["write", "--catalog", str(tmp_path / "c.db"), str(ok), str(ro), "--mood", "awe"]) == 1
    )
    err = capsys.readouterr()
    assert "read-only" in err.out + err.err
    assert exiv2_read(ok)["XMP-dc:Subject"] == ["Awe"]


def test_accept_then_write_pending(make_image, tmp_path, capsys):
    from moodtagger.core.library import current_model_id
    from moodtagger.core.moods import MOODS
    from moodtagger.core.scanner import scan

    lib = tmp_path / "lib"
    paths = [make_image(f"p{i}.jpg", root=lib, seed=i) for i in range(3)]
    db = str(tmp_path / "c.db")
    model_id = current_model_id()
    with Catalog(db) as cat:
        scan(cat, [lib], thumbnails=False)
        probs = [[0.05] * 8, [0.1] * 8, [0.05] * 8]
        probs[0][MOODS.index("awe")] = 0.65  # confident
        probs[1][MOODS.index("fear")] = 0.30  # below 0.5
        probs[2][MOODS.index("sadness")] = 0.65  # confident, but the user chose already
        rows = [
            (cat.photos.by_path(p).id, Prediction(tuple(pr)))
            for p, pr in zip(paths, probs, strict=True)
        ]
        cat.predictions.save(model_id, rows)
        cat.choices.set(cat.photos.by_path(paths[2]).id, ["contentment"])
    assert main(["accept", "--catalog", db, "--min", "0.5", "--json"]) == 0
    accepted = json.loads(capsys.readouterr().out)
    assert [a["mood"] for a in accepted["accepted"]] == ["awe"] and accepted["pending"] == 2
    assert main(["write", "--catalog", db]) == 0
    assert exiv2_read(paths[0])["XMP-dc:Subject"] == ["Awe"]
    assert exiv2_read(paths[1])["XMP-dc:Subject"] == []
    assert exiv2_read(paths[2])["XMP-dc:Subject"] == ["Contentment"]
    assert main(["write", "--catalog", db]) == 0
    assert "nothing to write" in capsys.readouterr().err


def test_keep_date_flag_and_the_catalog_sees_no_change(make_image, tmp_path, capsys):
    """11.3: `write --keep-date` leaves the modification time; a rescan finds the file unchanged."""
    from moodtagger.core.scanner import scan

    lib = tmp_path / "lib"
    path = make_image("dated.jpg", root=lib)
    os.utime(path, ns=(1_500_000_000_000_000_000, 1_500_000_000_000_000_000))
    db = str(tmp_path / "c.db")
    with Catalog(db) as cat:
        scan(cat, [lib], thumbnails=False)
    assert main(["write", "--catalog", db, "--keep-date", str(path), "--mood", "awe"]) == 0
    assert os.stat(path).st_mtime_ns == 1_500_000_000_000_000_000
    assert exiv2_read(path)["XMP-dc:Subject"] == ["Awe"]
    with Catalog(db) as cat:
        again = scan(cat, [lib], thumbnails=False)
    assert (again.changed, again.unchanged) == (0, 1)


def test_clear_keeps_a_mood_word_the_user_typed(make_image, tmp_path, exiftool, capsys):
    """11.6 (file part): `write --clear` removes only what moodtagger added."""
    typed, fresh = make_image("typed.jpg"), make_image("fresh.jpg", seed=1)
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", "-XMP-dc:Subject=Awe", str(typed)], check=True
    )
    db = str(tmp_path / "c.db")
    assert main(["write", "-q", "--catalog", db, str(typed), str(fresh), "--mood", "awe"]) == 0
    assert main(["write", "-q", "--catalog", db, str(typed), str(fresh), "--clear"]) == 0
    assert exiv2_read(typed)["XMP-dc:Subject"] == ["Awe"]
    assert exiv2_read(fresh)["XMP-dc:Subject"] == []
    assert main(["read", "--json", str(typed), str(fresh)]) == 0
    assert [r["moods"] for r in json.loads(capsys.readouterr().out)] == [[], []]


def test_failures_are_one_error_line_each(make_image, tmp_path, capsys):
    ro = make_image("ro.jpg")
    ro.chmod(0o444)
    assert (
        main(
            [
                "write",
                "--catalog",
                str(tmp_path / "c.db"),
                str(ro),
                str(tmp_path / "nope.jpg"),
                "--mood",
                "awe",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert f"error: {ro}: file is read-only" in err and f"error: {tmp_path / 'nope.jpg'}: " in err


def test_clear_leaves_the_photo_unconfirmed(make_image, tmp_path):
    """11.6: after `write --clear` the photo has no choice, so a later `accept` can work."""
    path = make_image("c.jpg")
    db = str(tmp_path / "c.db")
    assert main(["write", "-q", "--catalog", db, str(path), "--mood", "fear"]) == 0
    assert main(["write", "-q", "--catalog", db, str(path), "--clear"]) == 0
    with Catalog(db) as cat:
        assert cat.choices.get(cat.photos.by_path(path).id) is None
    assert exiv2_read(path)["XMP-lr:HierarchicalSubject"] == []


def test_a_file_named_twice_is_written_once(make_image, tmp_path, capsys):
    """Issue 23.6: `write dir/ dir/a.jpg` writes a.jpg once, no error, its choice is written."""
    lib = tmp_path / "lib"
    a = make_image("a.jpg", root=lib)
    make_image("b.jpg", root=lib, seed=1)
    db = str(tmp_path / "c.db")
    assert main(["write", "--catalog", db, str(lib), str(a), "--mood", "awe"]) == 0
    err = capsys.readouterr().err
    assert "error" not in err and "written 2, unchanged 0, failed 0" in err
    assert exiv2_read(a)["XMP-dc:Subject"] == ["Awe"]
    with Catalog(db) as cat:
        assert cat.choices.get(cat.photos.by_path(a).id)[1] == "written"
    # the pending choices under both PATHs, and a dry run naming it twice
    assert main(["write", "--catalog", db, str(lib), str(a), "--mood", "fear", "--dry-run"]) == 0
    assert "would write 2," in capsys.readouterr().err
