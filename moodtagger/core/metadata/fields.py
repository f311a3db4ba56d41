"""Which metadata fields hold mood keywords, and how a choice changes them (pure functions).

For a chosen mood M (display name, e.g. "Awe") under the keyword root R (default "Mood"):

=========================  ============  ==========================================
field                      value         read by
=========================  ============  ==========================================
XMP-dc:Subject             ``M``         every XMP-aware tool (Lightroom, darktable…)
IPTC:Keywords              ``M``         Photo Mechanic, older tools (+ CodedCharacterSet UTF8)
XMP-lr:HierarchicalSubject ``R|M``       Lightroom, digiKam, darktable — also tells us *ours*
XMP-digiKam:TagsList       ``R/M``       digiKam
EXIF:XPKeywords            ``a;b;M``     Windows Explorer (JPEG/TIFF only; one string)
=========================  ============  ==========================================

"Ours" are the moods named by an ``R|M`` (or ``R/M``) entry: only those are ever removed from the
flat fields, so a keyword the user typed themselves is never deleted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from moodtagger.core.imaging import RAW_EXT
from moodtagger.core.metadata.exiftool import check_arg
from moodtagger.core.moods import DISPLAY_ORDER, display_name, normalize_mood

SUBJECT = "XMP-dc:Subject"
IPTC_KEYWORDS = "IPTC:Keywords"
HIERARCHICAL = "XMP-lr:HierarchicalSubject"
DIGIKAM = "XMP-digiKam:TagsList"
XP_KEYWORDS = "EXIF:XPKeywords"

ALL_FIELDS = (SUBJECT, IPTC_KEYWORDS, HIERARCHICAL, DIGIKAM, XP_KEYWORDS)
DEFAULT_FIELDS = ALL_FIELDS
XMP_FIELDS = (SUBJECT, HIERARCHICAL, DIGIKAM)

# exiftool -j -G1 reports these keys for the fields above
JSON_KEYS = {
    SUBJECT: "XMP-dc:Subject",
    IPTC_KEYWORDS: "IPTC:Keywords",
    HIERARCHICAL: "XMP-lr:HierarchicalSubject",
    DIGIKAM: "XMP-digiKam:TagsList",
    XP_KEYWORDS: "IFD0:XPKeywords",
}
READ_ARGS = tuple(f"-{f}" for f in ALL_FIELDS) + ("-IPTC:all",)
UTF8_IPTC = ("UTF8", "27 37 71")
# exiftool FAQ 10: re-encode every IPTC string from Latin-1 to UTF-8 (one command on its own)
IPTC_TO_UTF8 = ("-IPTC:all=", "-tagsFromFile", "@", "-IPTC:all", "-IPTC:CodedCharacterSet=UTF8")

JPEG_TIFF = {".jpg", ".jpeg", ".jpe", ".jfif", ".tif", ".tiff"}
XMP_INSIDE = {".png", ".webp", ".heic", ".heif", ".hif", ".avif"}


def fields_for(path: str, wanted: Sequence[str]) -> tuple[str, ...]:
    """The wanted fields this kind of file (or XMP sidecar) can hold."""
    ext = os.path.splitext(path)[1].lower()
    allowed = ALL_FIELDS if ext in JPEG_TIFF else XMP_FIELDS
    return tuple(f for f in wanted if f in allowed)


def needs_sidecar(path: str) -> bool:
    ext = os.path.splitext(path)[1].lower()
    return ext in RAW_EXT or ext not in (JPEG_TIFF | XMP_INSIDE)


def sidecar_paths(path: str) -> tuple[str, str]:
    """(``photo.xmp`` as Lightroom/Capture One name it, ``photo.CR2.xmp`` as darktable/digiKam)."""
    return os.path.splitext(path)[0] + ".xmp", path + ".xmp"


@dataclass(frozen=True)
class WriteSettings:
    """What to write and where. The defaults are what most photo tools read."""

    fields: tuple[str, ...] = DEFAULT_FIELDS
    root: str = "Mood"
    sidecar: str = "xmp"  # "xmp": photo.xmp   "ext": photo.CR2.xmp
    readonly: str = "error"  # read-only file: "error" (per-file error) or "sidecar"
    verify: bool = True
    preserve_mtime: bool = False
    timeout: float = 60.0

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in ALL_FIELDS]
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; choose from {list(ALL_FIELDS)}")
        if not self.fields:
            raise ValueError("at least one field must be written")
        check_arg(self.root, "keyword root")
        if not self.root.strip() or any(c in self.root for c in "|/;,"):
            raise ValueError(f"keyword root must be a plain word without | / ; , (got {self.root!r})")
        if self.sidecar not in ("xmp", "ext"):
            raise ValueError("sidecar must be 'xmp' (photo.xmp) or 'ext' (photo.CR2.xmp)")
        if self.readonly not in ("error", "sidecar"):
            raise ValueError("readonly must be 'error' or 'sidecar'")

    def sidecar_for(self, path: str) -> str:
        lr, dt = sidecar_paths(path)
        return lr if self.sidecar == "xmp" else dt


def value(field_name: str, mood: str, root: str) -> str:
    name = display_name(mood)
    if field_name == HIERARCHICAL:
        return f"{root}|{name}"
    if field_name == DIGIKAM:
        return f"{root}/{name}"
    return name


def as_list(v: object) -> list[str]:
    """exiftool JSON gives one value as a scalar, several as a list (numbers as numbers)."""
    if v is None:
        return []
    if isinstance(v, list):
        return [str(x) for x in v]
    return [str(v)]


@dataclass
class FileTags:
    """The keyword fields of one file as read by exiftool."""

    path: str
    values: dict[str, list[str]] = field(default_factory=dict)
    charset: str | None = None  # IPTC:CodedCharacterSet
    image_hash: str | None = None
    error: str | None = None
    has_iptc: bool = False
    iptc_nonascii: bool = False  # some IPTC text is not plain ASCII

    @property
    def iptc_legacy(self) -> bool:
        """IPTC text stored in a legacy charset (no UTF-8 marker) that would be garbled."""
        return self.has_iptc and self.charset not in UTF8_IPTC and self.iptc_nonascii

    @classmethod
    def from_json(cls, path: str, record: dict) -> FileTags:
        tags = cls(path)
        for f, key in JSON_KEYS.items():
            items = as_list(record.get(key))
            if f == XP_KEYWORDS:
                items = split_xp(items[0]) if items else []
            tags.values[f] = items
        cs = record.get("IPTC:CodedCharacterSet")
        tags.charset = str(cs) if cs is not None else None
        iptc = [v for k, v in record.items() if k.startswith("IPTC:")]
        tags.has_iptc = bool(iptc)
        tags.iptc_nonascii = any(not str(x).isascii() for v in iptc for x in as_list(v))
        h = record.get("File:ImageDataHash")
        tags.image_hash = str(h) if h else None
        return tags

    def get(self, f: str) -> list[str]:
        return self.values.get(f, [])

    @property
    def keywords(self) -> list[str]:
        return flat_keywords(self.values)

    def moods(self, root: str = "Mood") -> list[str]:
        """Canonical mood ids named under ``root`` (by us or by any tool using these fields)."""
        found: set[str] = set()
        for f, sep in ((HIERARCHICAL, "|"), (DIGIKAM, "/")):
            prefix = root + sep
            for entry in self.get(f):
                if entry.startswith(prefix) and sep not in entry[len(prefix):]:
                    try:
                        found.add(normalize_mood(entry[len(prefix):]))
                    except ValueError:
                        pass
        return [m for m in DISPLAY_ORDER if m in found]


def flat_keywords(values: dict[str, list[str]]) -> list[str]:
    """All flat keywords (Subject ∪ IPTC ∪ XP) of per-field values, first-seen order, no duplicates."""
    seen: dict[str, None] = {}
    for f in (SUBJECT, IPTC_KEYWORDS, XP_KEYWORDS):
        for k in values.get(f, []):
            seen.setdefault(k, None)
    return list(seen)


def split_xp(text: str) -> list[str]:
    return [p.strip() for p in text.split(";") if p.strip()]


@dataclass
class Plan:
    """How one file changes: the per-field lists after the write, and the exiftool arguments."""

    before: dict[str, list[str]]
    after: dict[str, list[str]]
    args: list[str]
    moods_before: list[str]
    moods_after: list[str]
    pre_args: tuple[str, ...] = ()  # a separate first command (IPTC charset conversion)

    @property
    def changed(self) -> bool:
        return bool(self.args)

    def diff(self) -> list[tuple[str, list[str], list[str]]]:
        return [(f, self.before[f], self.after[f]) for f in self.after if self.before[f] != self.after[f]]


def plan(tags: FileTags, moods: Iterable[str], fields: Sequence[str], root: str) -> Plan:
    """Replace the moods we wrote before with ``moods`` in ``fields``; keep everything else.

    Uses exiftool's ``-TAG-=v -TAG+=v`` idiom (delete then add: never a duplicate). A field whose
    content would not change gets no arguments, so writing the same choice twice writes nothing.
    """
    chosen = {normalize_mood(m) for m in moods}
    new = [m for m in DISPLAY_ORDER if m in chosen]
    ours = tags.moods(root)
    drop = [m for m in ours if m not in new]
    before: dict[str, list[str]] = {}
    after: dict[str, list[str]] = {}
    args: list[str] = []
    for f in fields:
        cur = tags.get(f)
        add_vals = [value(f, m, root) for m in new]
        del_vals = [value(f, m, root) for m in drop]
        gone = set(add_vals) | set(del_vals)
        result = [v for v in cur if v not in gone] + add_vals
        before[f], after[f] = cur, result
        if Counter(result) == Counter(cur):
            continue  # same content (order aside): nothing to write
        if f == XP_KEYWORDS:
            args.append(f"-{f}=" + ";".join(result))  # one string: edited as a list here
            continue
        for v in del_vals:
            args.append(f"-{f}-={v}")
        for v in add_vals:
            args += [f"-{f}-={v}", f"-{f}+={v}"]
    pre: tuple[str, ...] = ()
    if any(a.startswith(f"-{IPTC_KEYWORDS}") for a in args):
        if tags.iptc_legacy:
            pre = IPTC_TO_UTF8  # or the user's accented IPTC text would turn into mojibake
        elif tags.charset not in UTF8_IPTC:
            args.append("-IPTC:CodedCharacterSet=UTF8")
    for a in args:
        check_arg(a, "keyword")
    return Plan(before, after, args, ours, new, pre)


def matches(tags: FileTags, expected: dict[str, list[str]]) -> str | None:
    """None when ``tags`` hold exactly the expected values (as multisets), else what differs."""
    for f, want in expected.items():
        got = tags.get(f)
        if Counter(got) != Counter(want):
            return f"{f} reads back as {got!r}, expected {want!r}"
    return None
