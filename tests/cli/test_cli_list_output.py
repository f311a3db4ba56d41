"""Issue 29: `list --json` builds its records from columns and streams them; the bytes of
`list` (JSON and text), `export` (JSON and CSV) and `predict --json` stay what they were.

A real catalog (real files scanned, a broken one, a vanished one, a non-UTF-8 name, a name with
quotes, a backslash, a newline and control characters), predictions stored with numbers that
test the rounding (an exact tie, a near tie, < 1e-4, infinity), choices pending and written,
custom moods learnt for some photos only. The expected records are spelt out; the expected
bytes are what the standard library's JSON encoder makes of them (what `list` printed before)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from moodtagger.cli import main
from moodtagger.core.catalog import Catalog, Prediction
from moodtagger.core.library import Library
from moodtagger.core.moods import CSV_COLUMNS, MOODS

INF = float("inf")
ODD = b'odd "name" \\ tab\there \x1f new\nline \xc3\xa9 \xf0\x9f\x98\x80.jpg'
LATIN1 = b"caf\xe9.jpg"
NAMES = [b"a.jpg", b"b.jpg", b"c.jpg", b"d.jpg", LATIN1, ODD, b"nopred.jpg", b"broken.jpg"]

PREDICTIONS = {  # the eight probabilities, valence, arousal, as stored
    b"a.jpg": (
        (0.0078125, 4.2e-05, 0.1234565, 1e-07, 0.30000000000000004, 0.5, 2 / 3, 0.0),
        5.8291,
        None,
    ),
    b"b.jpg": ((0.02, 0.02, 0.02, 0.02, 0.86, 0.02, 0.02, 0.0), 1.0005, 9.9999),
    b"c.jpg": ((0.1, 0.2, 0.3, 0.4, 0.4, 0.0, 1.0, 0.9999996), INF, 3.25),
    b"d.jpg": ((0.5, INF, 0.25, 0.0, 0.0, 1e-06, 9.5e-05, 0.0001), None, None),
    LATIN1: ((0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125), 5.0, 5.0),
    ODD: ((0.9, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.04), 2.0004999, 7.123456),
    b"gone.jpg": ((0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1), 4.0, 6.0),
}
STORMY = {b"a.jpg": 0.7, b"b.jpg": 1.0, LATIN1: 1e-05, ODD: 0.123456789}  # "Stormy Sky" learnt


def _probs(*xs: float) -> dict[str, float | None]:
    return dict(zip(MOODS, xs, strict=True))


def _rec(path: str, **fields: object) -> dict[str, object]:
    return {"path": path, **fields}


def _expected(folder: str, model: str) -> dict[bytes, dict[str, object]]:
    """What `list --json` printed for each photo before issue 29 (in path order)."""
    p = {n: os.fsdecode(os.path.join(os.fsencode(folder), n)) for n in [*NAMES, b"gone.jpg"]}
    none = {"mood": None, "probability": None, "probabilities": None}
    return {
        b"a.jpg": _rec(
            p[b"a.jpg"],
            mood="fear",
            probability=0.666667,
            probabilities=_probs(0.007812, 4.2e-05, 0.123456, 0.0, 0.3, 0.5, 0.666667, 0.0),
            valence=5.829,
            chosen=[],
            state="unconfirmed",
            model=model,
            custom={"Cozy": None, "Stormy Sky": 0.7},
        ),
        b"b.jpg": _rec(
            p[b"b.jpg"],
            mood="disgust",
            probability=0.86,
            probabilities=_probs(0.02, 0.02, 0.02, 0.02, 0.86, 0.02, 0.02, 0.0),
            valence=1.0,
            arousal=10.0,
            chosen=["sadness", "Stormy Sky"],
            state="chosen",
            model=model,
            custom={"Cozy": None, "Stormy Sky": 1.0},
        ),
        b"broken.jpg": _rec(
            p[b"broken.jpg"],
            **none,
            chosen=[],
            state="failed",
            model=None,
            custom={"Cozy": None, "Stormy Sky": None},
        ),
        b"c.jpg": _rec(
            p[b"c.jpg"],
            mood="fear",
            probability=1.0,
            probabilities=_probs(0.1, 0.2, 0.3, 0.4, 0.4, 0.0, 1.0, 1.0),
            valence=None,
            arousal=3.25,
            chosen=["awe"],
            state="written",
            model=model,
            custom={"Cozy": None, "Stormy Sky": None},
        ),
        LATIN1: _rec(
            p[LATIN1],
            mood="amusement",
            probability=0.125,
            probabilities=_probs(*[0.125] * 8),
            valence=5.0,
            arousal=5.0,
            chosen=[],
            state="unconfirmed",
            model=model,
            custom={"Cozy": None, "Stormy Sky": 1e-05},
        ),
        b"d.jpg": _rec(
            p[b"d.jpg"],
            mood="anger",
            probability=None,
            probabilities=_probs(0.5, None, 0.25, 0.0, 0.0, 1e-06, 9.5e-05, 0.0001),
            chosen=[],
            state="chosen",
            model=model,
            custom={"Cozy": None, "Stormy Sky": None},
        ),
        b"nopred.jpg": _rec(
            p[b"nopred.jpg"],
            **none,
            chosen=[],
            state="unconfirmed",
            model=None,
            custom={"Cozy": None, "Stormy Sky": None},
        ),
        ODD: _rec(
            p[ODD],
            mood="amusement",
            probability=0.9,
            probabilities=_probs(0.9, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.04),
            valence=2.0,
            arousal=7.123,
            chosen=[],
            state="unconfirmed",
            model=model,
            custom={"Cozy": None, "Stormy Sky": 0.123457},
        ),
        b"gone.jpg": _rec(  # vanished: its last prediction stays
            p[b"gone.jpg"],
            mood="amusement",
            probability=0.3,
            probabilities=_probs(0.3, *[0.1] * 7),
            valence=4.0,
            arousal=6.0,
            chosen=[],
            state="missing",
            model=model,
            custom={"Cozy": None, "Stormy Sky": None},
        ),
    }


def _bytes(records: list[dict[str, object]], *, escaped: bool) -> bytes:
    """The standard library's JSON of ``records``: `list` escapes undecodable path bytes
    (``\\udcNN``), `export` writes them as they are."""
    text = json.dumps(records, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    return text.encode("utf-8", "backslashreplace" if escaped else "surrogateescape")


@pytest.fixture
def odd_catalog(make_image, tmp_path: Path) -> tuple[str, str, str]:
    """(photo folder, catalog, model id) with every kind of photo and record."""
    folder = tmp_path / "lib"
    for i, name in enumerate([*NAMES, b"gone.jpg"]):
        make_image(name, root=folder, seed=i)
    with open(os.path.join(os.fsencode(folder), b"broken.jpg"), "wb") as fh:
        fh.write(b"\xff\xd8 not a jpeg")
    db = str(tmp_path / "c.db")
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(folder)]) == 1  # broken.jpg
    fs = os.fsencode(folder)
    with Catalog(db) as cat:
        model = Library(cat).model_id
        assert model is not None
        ids = {os.path.basename(os.fsencode(p.path)): p.id for p in cat.photos.all()}
        cat.predictions.save(
            model,
            [(ids[n], Prediction(tuple(pr), va, ar)) for n, (pr, va, ar) in PREDICTIONS.items()],
        )
        cat.choices.set(ids[b"b.jpg"], ["sadness", "Stormy Sky"])
        cat.conn.execute(  # the stored order is kept (a choice imported from a file)
            "UPDATE choices SET moods=? WHERE photo_id=?",
            ('["sadness", "Stormy Sky"]', ids[b"b.jpg"]),
        )
        cat.choices.set(ids[b"c.jpg"], ["awe"])
        cat.choices.mark(ids[b"c.jpg"], "written")
        cat.choices.set(ids[b"d.jpg"], [])  # no mood: a choice still to be written
        cat.moods.add("Stormy Sky")
        cozy = cat.moods.add("Cozy")  # never learnt: null everywhere
        stormy = cat.moods.find("Stormy Sky")
        assert stormy is not None and cozy is not None
        cat.moods.save_scores(stormy.id, [ids[n] for n in STORMY], list(STORMY.values()))
    os.unlink(os.path.join(fs, b"gone.jpg"))
    assert main(["scan", "--no-predict", "-q", "--catalog", db, str(folder)]) == 0
    return str(folder), db, model


def _out(capsysbinary, *argv: str) -> bytes:
    capsysbinary.readouterr()
    assert main(list(argv)) == 0
    out = capsysbinary.readouterr().out
    if os.environ.get("DEBUG_OUT"):
        with open(os.environ["DEBUG_OUT"], "ab") as fh:
            fh.write(b"==== " + " ".join(argv).encode() + b"\n" + out)
    return out


def test_list_json_bytes_are_unchanged(odd_catalog, capsysbinary) -> None:
    folder, db, model = odd_catalog
    want = _expected(folder, model)
    listed = [n for n in sorted(want, key=lambda n: os.path.join(os.fsencode(folder), n))]
    shown = [want[n] for n in listed if n != b"gone.jpg"]
    assert _out(capsysbinary, "list", "--json", "--catalog", db) == _bytes(shown, escaped=True)
    # --sort/--mood: the order of the query, the same records
    got = _out(capsysbinary, "list", "--json", "--sort", "top", "--desc", "--catalog", db)
    order = [b"d.jpg", b"c.jpg", ODD, b"b.jpg", b"a.jpg", LATIN1, b"broken.jpg", b"nopred.jpg"]
    assert got == _bytes([want[n] for n in order], escaped=True)
    got = _out(capsysbinary, "list", "--json", "--mood", "Stormy Sky", "--catalog", db)
    assert got == _bytes([want[n] for n in (b"a.jpg", b"b.jpg")], escaped=True)
    got = _out(capsysbinary, "list", "--json", "--state", "missing", "--catalog", db)
    assert got == _bytes([want[b"gone.jpg"]], escaped=True)
    assert _out(capsysbinary, "list", "--json", "--mood", "contentment", "--catalog", db) == b"[]\n"


def test_list_text_bytes_are_unchanged(odd_catalog, capsysbinary) -> None:
    folder, db, _model = odd_catalog
    want = [
        f"fear          0.67  unconfirmed -            {folder}/a.jpg",
        f"disgust       0.86  chosen      sadness,Stormy Sky {folder}/b.jpg",
        f"-                -  failed      -            {folder}/broken.jpg",
        f"fear          1.00  written     awe          {folder}/c.jpg",
        f"amusement     0.12  unconfirmed -            {folder}/caf\\xe9.jpg",
        f"anger          inf  chosen      -            {folder}/d.jpg",
        f"-                -  unconfirmed -            {folder}/nopred.jpg",
        f'amusement     0.90  unconfirmed -            {folder}/odd "name" \\ tab\\there '
        "\\x1f new\\nline é 😀.jpg",
    ]
    got = _out(capsysbinary, "list", "--catalog", db)
    assert got.decode("utf-8").splitlines() == want, got  # one line each, escaped as `ls -b`


def test_export_json_and_csv_bytes_are_unchanged(odd_catalog, capsysbinary) -> None:
    folder, db, model = odd_catalog
    want = _expected(folder, model)
    exported = [b"a.jpg", b"b.jpg", b"c.jpg", LATIN1, b"d.jpg", b"nopred.jpg", ODD]  # status ok
    got = _out(capsysbinary, "export", "--format", "json", "--catalog", db)
    assert got == _bytes([want[n] for n in exported], escaped=False)

    got = _out(capsysbinary, "export", "--catalog", db)
    head = ",".join([*CSV_COLUMNS, "Cozy", "Stormy Sky"])
    m = model
    want_csv = [
        f"{folder}/a.jpg,fear,0.666667,0.007812,0.000042,0.123456,0.000000,0.300000,0.500000,"
        f"0.666667,0.000000,5.829,,,unconfirmed,{m},,0.700000",
        f"{folder}/b.jpg,disgust,0.860000,0.020000,0.020000,0.020000,0.020000,0.860000,0.020000,"
        f"0.020000,0.000000,1.000,10.000,sadness;Stormy Sky,chosen,{m},,1.000000",
        f"{folder}/c.jpg,fear,1.000000,0.100000,0.200000,0.300000,0.400000,0.400000,0.000000,"
        f"1.000000,1.000000,inf,3.250,awe,written,{m},,",
        f"{folder}/caf\udce9.jpg,amusement,0.125000,0.125000,0.125000,0.125000,0.125000,0.125000,"
        f"0.125000,0.125000,0.125000,5.000,5.000,,unconfirmed,{m},,0.000010",
        f"{folder}/d.jpg,anger,inf,0.500000,inf,0.250000,0.000000,0.000000,0.000001,0.000095,"
        f"0.000100,,,,chosen,{m},,",
        f"{folder}/nopred.jpg,,,,,,,,,,,,,,unconfirmed,,,",
        f'"{folder}/odd ""name"" \\ tab\there \x1f new\nline é 😀.jpg",amusement,0.900000,0.900000,'
        f"0.010000,0.010000,0.010000,0.010000,0.010000,0.010000,0.040000,2.000,7.123,,unconfirmed,"
        f"{m},,0.123457",
    ]
    assert got == "".join(f"{line}\n" for line in [head, *want_csv]).encode(
        "utf-8", "surrogateescape"
    )


def test_predict_style_entries_and_extra_fields() -> None:
    """Entries outside a catalog (`predict`): no chosen/state; an extra field (the error)."""
    from moodtagger.core.export import Entries, Entry, json_chunks

    entries = [
        Entry("/x/a.jpg", Prediction((0.1,) * 7 + (0.3,), 5.0, float("nan")), model="m"),
        Entry("/x/b.jpg", None, model="m"),
    ]
    table = Entries.of(entries, extra=[{}, {"error": 'cannot "read"\nit'}])
    want = [
        {
            "path": "/x/a.jpg",
            "mood": "sadness",
            "probability": 0.3,
            "probabilities": _probs(*[0.1] * 7, 0.3),
            "valence": 5.0,
            "arousal": None,
            "model": "m",
        },
        {
            "path": "/x/b.jpg",
            "mood": None,
            "probability": None,
            "probabilities": None,
            "model": None,
            "error": 'cannot "read"\nit',
        },
    ]
    assert "".join(json_chunks(table)) == json.dumps(want, indent=1, ensure_ascii=False)
    assert "".join(json_chunks(Entries.of([]))) == "[]"
    assert [e.path for e in table] == ["/x/a.jpg", "/x/b.jpg"]


@pytest.mark.parametrize("digits", [6, 3])
def test_number_texts_are_pythons_round_and_repr(digits: int) -> None:
    """The vectorised numbers are ``repr(round(x, digits))`` (null: not finite) for every value:
    random ones, ties and near ties, tiny, large, negative, non-finite."""
    from moodtagger.core.export import number_texts

    rng = np.random.default_rng(29)
    scale = 10**digits
    ties = (np.arange(2000) + 0.5) / scale
    xs = np.concatenate(
        [
            rng.random(20000),
            rng.random(5000) ** 6,
            rng.random(5000) * 10,
            rng.random(1000) * 1e6,
            -rng.random(1000),
            ties,
            np.nextafter(ties, 0),
            np.nextafter(ties, 1),
            np.arange(2000) / scale,
            [0.0, -0.0, 1.0, 9.9999996, 10.0, 1e-4, 9.9e-5, 5e-324, 1e300, INF, -INF, np.nan],
            [0.0078125, 0.1234565, 0.30000000000000004, 2 / 3, 1e-07, 4.2e-05],
        ]
    )

    def ref(x: float) -> str:
        r = round(x, digits)
        return repr(r) if np.isfinite(r) else "null"

    assert number_texts(xs, digits) == [ref(x) for x in xs.tolist()]


def test_entries_keep_the_order_asked_for(odd_catalog) -> None:
    """`Library.entries(ids)`: in the order of ``ids`` (a sort), ids not in the catalog left out;
    iterating gives the same entries the CSV writer and `list`'s text use."""
    folder, db, model = odd_catalog
    with Catalog(db) as cat:
        ids = {os.path.basename(os.fsencode(p.path)): p.id for p in cat.photos.all()}
        lib = Library(cat)
        got = lib.entries([ids[b"c.jpg"], 10**9, ids[b"gone.jpg"], ids[b"a.jpg"]])
    assert [os.path.basename(os.fsencode(e.path)) for e in got] == [b"c.jpg", b"gone.jpg", b"a.jpg"]
    c, gone, a = got
    assert c.prediction is not None and c.prediction.probs == PREDICTIONS[b"c.jpg"][0]
    assert (c.chosen, c.state, c.model) == (["awe"], "written", model)
    assert c.custom == {"Cozy": None, "Stormy Sky": None} and gone.state == "missing"
    assert a.custom is not None and a.custom["Stormy Sky"] == pytest.approx(0.7)
    assert a.prediction is not None and a.prediction.arousal is None
