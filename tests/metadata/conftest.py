"""Metadata fixtures: real exiftool, real files, an independent reader (exiv2 via pyexiv2)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from moodtagger.core.tools import exiftool_path


@pytest.fixture
def service() -> Iterator:
    from moodtagger.core.metadata import ExifToolService

    svc = ExifToolService(timeout=60)
    try:
        yield svc
    finally:
        svc.close()


def et_read(path: str | os.PathLike[str], *tags: str) -> dict:
    """exiftool's view of some tags (-G1 keys), lists always lists."""
    import json

    out = subprocess.run(
        [exiftool_path(), "-j", "-G1", *[f"-{t}" for t in tags], os.fspath(path)],
        capture_output=True,
        check=True,
    ).stdout
    rec = json.loads(out)[0]
    rec.pop("SourceFile", None)
    return {k: (v if isinstance(v, list) else [v]) for k, v in rec.items()}


def exiv2_read(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """The independent reader: exiv2 (pyexiv2) for XMP/IPTC/EXIF; for HEIC, the XMP packet
    as libheif (pillow-heif) extracts it."""
    p = os.fspath(path)
    if p.lower().endswith((".heic", ".heif")):
        import pillow_heif

        heif = pillow_heif.open_heif(p)
        xmp = heif.info.get("xmp") or b""
        return _xmp_lists(xmp.decode("utf-8", "replace"))
    import pyexiv2

    img = pyexiv2.Image(p)
    try:
        xmp = img.read_xmp()
        try:
            iptc = img.read_iptc()
        except Exception:
            iptc = {}
        exif = img.read_exif() if not p.lower().endswith(".xmp") else {}
    finally:
        img.close()

    def lst(v):
        return [] if v is None else (v if isinstance(v, list) else [v])

    return {
        "XMP-dc:Subject": lst(xmp.get("Xmp.dc.subject")),
        "XMP-lr:HierarchicalSubject": lst(xmp.get("Xmp.lr.hierarchicalSubject")),
        "XMP-digiKam:TagsList": lst(xmp.get("Xmp.digiKam.TagsList")),
        "IPTC:Keywords": lst(iptc.get("Iptc.Application2.Keywords")),
        "EXIF:XPKeywords": [
            k.strip()
            for k in (exif.get("Exif.Image.XPKeywords") or "").rstrip("\x00").split(";")
            if k.strip()
        ],
        "Artist": lst(exif.get("Exif.Image.Artist")),
    }


def _xmp_lists(xml: str) -> dict[str, list[str]]:
    import re

    def items(tag: str) -> list[str]:
        m = re.search(rf"<{tag}>(.*?)</{tag}>", xml, re.S)
        return re.findall(r"<rdf:li>(.*?)</rdf:li>", m.group(1)) if m else []

    return {
        "XMP-dc:Subject": items("dc:subject"),
        "XMP-lr:HierarchicalSubject": items("lr:hierarchicalSubject"),
        "XMP-digiKam:TagsList": items("digiKam:TagsList"),
    }


def pixels(path: str | os.PathLike[str]) -> np.ndarray:
    from moodtagger.core import imaging  # noqa: F401 (HEIF opener)

    with Image.open(path) as im:
        return np.asarray(im)


def sha256(path: str | os.PathLike[str]) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _every_exiftool() -> list[str]:
    """Each exiftool version on this machine once (the one in use first): the read/write paths
    differ between exiftool 13 (``-api StructFormat=JSONQ``) and older ones such as Debian's
    12.57, and both must keep keywords as text."""
    found: dict[str, str] = {}
    candidates = [exiftool_path()]
    candidates += [
        os.path.join(d, "exiftool") for d in os.environ.get("PATH", "").split(os.pathsep)
    ]
    candidates.append("/usr/bin/exiftool")
    for exe in candidates:
        if not (exe and os.path.isfile(exe) and os.access(exe, os.X_OK)):
            continue
        try:
            ver = subprocess.run(
                [exe, "-ver"], capture_output=True, text=True, timeout=30, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        found.setdefault(ver, exe)
    return list(found.values())


# the keyword fields a write touches, read back by their exiftool names in the tests
KEYWORD_TAGS = (
    "XMP-dc:Subject",
    "IPTC:Keywords",
    "XMP-lr:HierarchicalSubject",
    "XMP-digiKam:TagsList",
    "EXIF:XPKeywords",
)
FULL = {".jpg", ".tif"}  # JPEG/TIFF also carry IPTC-IIM and Windows XPKeywords
EVERY_EXIFTOOL = _every_exiftool()


def _forget_exiftool() -> None:
    from moodtagger.core import tools

    for f in vars(tools).values():  # every cached answer about which exiftool to use
        if callable(getattr(f, "cache_clear", None)):
            f.cache_clear()


@pytest.fixture
def use_exiftool(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """``use_exiftool(exe)``: make ``exe`` the exiftool of the CLI and the shared service, as a
    user does with MOODTAGGER_EXIFTOOL."""

    def use(exe: str) -> None:
        _forget_exiftool()
        monkeypatch.setenv("MOODTAGGER_EXIFTOOL", exe)

    yield use
    monkeypatch.delenv("MOODTAGGER_EXIFTOOL", raising=False)
    _forget_exiftool()


def et_text(path: str | os.PathLike[str], *tags: str, exe: str | None = None) -> dict:
    """exiftool's exact text of some tags (``-X``: RDF/XML, values never typed), keys as
    ``Group1:Tag``, lists always lists. Independent of moodtagger's own reader."""
    import xml.etree.ElementTree as ET

    out = subprocess.run(
        [exe or exiftool_path(), "-X", *[f"-{t}" for t in tags], os.fspath(path)],
        capture_output=True,
        check=True,
    ).stdout
    rdf = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
    desc = ET.fromstring(out).find(f"{rdf}Description")
    rec: dict[str, list[str]] = {}
    for el in [] if desc is None else list(desc):
        uri, tag = el.tag[1:].split("}")
        group = uri.rstrip("/").split("/")[-2]  # http://ns.exiftool.org/XMP/XMP-dc/1.0/
        items = el.findall(f".//{rdf}li")
        rec[f"{group}:{tag}"] = [i.text or "" for i in items] if items else [el.text or ""]
    return rec
