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

Keyword sync (Metadata Working Group guidance, as exiftool's MWG module applies it): after a
write of moods, every flat field written holds the photo's keywords — the union of the flat
fields (Subject, IPTC, XPKeywords) and the leaves of the user's hierarchical entries — plus the
mood. XMP is always written; IPTC-IIM and XPKeywords only where the file already has them (IPTC:
any IPTC record; the IPTC digest is then updated). The user's trees stay as they were: a write
adds only ``R|M`` / ``R/M`` to an existing hierarchical field, never a flat keyword (a flat
keyword that is a node of a path, as Lightroom exports ancestors, is covered by it; one that is
in no tree stays flat). A hierarchical field the write creates mirrors the other one's tree.

What is ours: the ``R|M`` (``R/M``) entries, and the values the catalog recorded that moodtagger
added to each field (``added``: the mood words, the keywords copied in by the sync, a created
field's mirror). A mood change removes a dropped mood's flat word only where the record has it;
clearing (no moods) removes the ``R|M`` entries and every recorded value still there, so
``write`` then ``clear`` gives back exactly the keyword fields the file had (IPTC's UTF-8 marker
and digest aside). No record (a file tagged elsewhere, a write without a catalog): clearing
removes the ``R|M`` entries only and leaves flat keywords — which may be the user's — alone; the
keywords a write copied in then stay (they only repeat what the file already had). A photo the
catalog wrote before records were kept gets its journal's mood words as the record
(:data:`LEGACY`), less any word a user's tree holds as a leaf (how those versions marked it).

Values are exiftool's exact text (see ``ExifToolService.execute_json``): ``1.50`` is not ``1.5``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from moodtagger.core.metadata.exiftool import check_arg
from moodtagger.core.moods import display_name, mood_id, ordered

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
FLAT_FIELDS = (SUBJECT, IPTC_KEYWORDS, XP_KEYWORDS)
HIER_FIELDS = {HIERARCHICAL: "|", DIGIKAM: "/"}
# every XMP/IPTC text is read so that a write can prove it changed nothing but the keywords
READ_ARGS = tuple(f"-{f}" for f in ALL_FIELDS) + (
    "-XMP:all",
    "-IPTC:all",
    "-File:MIMEType",
    "-ExifTool:Error",
    "-Photoshop:IPTCDigest",
)
# fields a write may change besides the keyword fields
EXPECTED_CHANGES = {
    "XMP-x:XMPToolkit",
    "IPTC:CodedCharacterSet",
    "IPTC:ApplicationRecordVersion",
    "IPTC:EnvelopeRecordVersion",
    "Photoshop:IPTCDigest",
}
UTF8_IPTC = ("UTF8", "27 37 71")
# exiftool FAQ 10: re-encode every IPTC string from Latin-1 to UTF-8 (one command on its own)
IPTC_TO_UTF8 = ("-IPTC:all=", "-tagsFromFile", "@", "-IPTC:all", "-IPTC:CodedCharacterSet=UTF8")

JPEG_TIFF = {".jpg", ".jpeg", ".jpe", ".jfif", ".tif", ".tiff", ".dng"}
XMP_INSIDE = {".png", ".webp", ".heic", ".heif", ".hif", ".avif"}


def fields_for(path: str, wanted: Sequence[str], tags: FileTags | None = None) -> tuple[str, ...]:
    """The wanted fields this kind of file (or XMP sidecar) can hold — IPTC-IIM and XPKeywords
    only where the file already has them (``tags``: what it holds now)."""
    ext = os.path.splitext(path)[1].lower()
    allowed = set(ALL_FIELDS if ext in JPEG_TIFF else XMP_FIELDS)
    if tags is None or not tags.has_iptc:
        allowed.discard(IPTC_KEYWORDS)
    if tags is None or not tags.has_xp:
        allowed.discard(XP_KEYWORDS)
    return tuple(f for f in wanted if f in allowed)


def holds_own_xmp(path: str) -> bool:
    """JPEG/TIFF/DNG/PNG/WebP/HEIC hold their XMP inside (DNG too, as Lightroom does)."""
    return os.path.splitext(path)[1].lower() in (JPEG_TIFF | XMP_INSIDE)


def needs_sidecar(path: str) -> bool:
    return not holds_own_xmp(path)


def reads_stem_sidecar(path: str) -> bool:
    """A photo that keeps its XMP in ``photo.xmp`` (Lightroom, Capture One, darktable read it for
    RAW files); a JPEG/TIFF/DNG/PNG… holds its XMP inside and never reads that file."""
    from moodtagger.core.imaging import is_image_path

    return needs_sidecar(path) and is_image_path(os.path.basename(path))


def stem_sharers(path: str) -> list[str]:
    """The other files in the folder that would also read ``photo.xmp``: RAWs with the same
    name before the extension (IMG_1.CR2 + IMG_1.CR3). A JPEG beside the RAW does not count."""
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return ["?"]  # cannot tell: take the unambiguous name
    return sorted(
        other
        for other in names
        if other != name and os.path.splitext(other)[0] == stem and reads_stem_sidecar(other)
    )


def _stem_is_shared(path: str) -> bool:
    """Another file that reads ``photo.xmp`` has the same stem (two RAWs: IMG_1.CR2 + IMG_1.CR3)."""
    return bool(stem_sharers(path))


def sidecar_paths(path: str) -> tuple[str, ...]:
    """The sidecars that belong to ``path`` and no other file.

    ``photo.CR2.xmp`` always does. ``photo.xmp`` (Lightroom/Capture One) for a file that needs
    a sidecar (RAW) unless another RAW shares its stem (then it is left alone: it is not this
    file's alone); a JPEG beside the RAW does not share it (it never reads ``photo.xmp``). A file
    holding its own XMP has only ``photo.jpg.xmp`` (left from a read-only fallback).
    """
    if needs_sidecar(path) and not _stem_is_shared(path):
        return os.path.splitext(path)[0] + ".xmp", path + ".xmp"
    return (path + ".xmp",)


@dataclass(frozen=True)
class WriteSettings:
    """What to write and where. The defaults are what most photo tools read."""

    fields: tuple[str, ...] = DEFAULT_FIELDS
    root: str = "Mood"
    sidecar: str = "xmp"  # "xmp": photo.xmp   "ext": photo.CR2.xmp
    readonly: str = "error"  # read-only file: "error" (per-file error) or "sidecar"
    verify: bool = True
    preserve_mtime: bool = False  # keep the file date (`write --keep-date`, a GUI setting)
    follow_symlinks: bool = False  # write through a link that leads out of the library folders
    timeout: float = 60.0  # seconds exiftool may take per request (its watchdog's limit)

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in ALL_FIELDS]
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; choose from {list(ALL_FIELDS)}")
        if not self.fields:
            raise ValueError("at least one field must be written")
        check_arg(self.root, "keyword root")
        if not self.root.strip() or any(c in self.root for c in "|/;,"):
            raise ValueError(
                f"keyword root must be a plain word without | / ; , (got {self.root!r})"
            )
        if self.sidecar not in ("xmp", "ext"):
            raise ValueError("sidecar must be 'xmp' (photo.xmp) or 'ext' (photo.CR2.xmp)")
        if self.readonly not in ("error", "sidecar"):
            raise ValueError("readonly must be 'error' or 'sidecar'")
        if not 0 < self.timeout <= 86400:  # (also refuses NaN)
            raise ValueError("the exiftool timeout must be more than 0 and at most 86400 seconds")

    def sidecar_for(self, path: str) -> str:
        """The sidecar to create: ``photo.xmp`` where that name is unambiguous and the setting
        asks for it, else ``photo.CR2.xmp``."""
        own = sidecar_paths(path)
        return own[0] if self.sidecar == "xmp" else own[-1]


def value(field_name: str, mood: str, root: str) -> str:
    name = display_name(mood)
    if field_name == HIERARCHICAL:
        return f"{root}|{name}"
    if field_name == DIGIKAM:
        return f"{root}/{name}"
    return name


def as_list(v: object) -> list[str]:
    """exiftool gives one value as a scalar, several as a list (always text, see
    ``ExifToolService.execute_json``)."""
    if v is None:
        return []
    if isinstance(v, list):
        return [str(x) for x in v]
    return [str(v)]


def _cp1252_bytes(text: str) -> bytes | None:
    """The bytes exiftool decoded as its default IPTC charset (cp1252), or None if not from it."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) > 0xFF:
                return None
            out.append(ord(ch))  # bytes cp1252 leaves undefined come back as U+0080..U+009F
    return bytes(out)


def _as_utf8(text: str) -> str | None:
    """``text`` re-read as UTF-8 if its cp1252 bytes are valid UTF-8 (else None)."""
    raw = _cp1252_bytes(text)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


@dataclass
class FileTags:
    """The keyword fields of one file as read by exiftool."""

    path: str
    values: dict[str, list[str]] = field(default_factory=dict)
    charset: str | None = None  # IPTC:CodedCharacterSet
    image_hash: str | None = None
    error: str | None = None
    has_iptc: bool = False
    has_xp: bool = False
    iptc_nonascii: bool = False  # some IPTC text is not plain ASCII
    iptc_utf8: bool = False  # ... and all of it is UTF-8 already (only the marker is missing)
    mime: str | None = None
    iptc_fixed: dict[str, object] = field(default_factory=dict)  # IPTC values re-read as UTF-8
    other: dict[str, object] = field(default_factory=dict)  # every other XMP/IPTC value
    # read from the file's bytes, not by exiftool (:func:`jpegcheck.read_ahead`): no keyword
    # field, no IPTC, no XPKeywords; ``other`` unknown (exiftool reads it if ever needed)
    unread: bool = False

    @property
    def iptc_legacy(self) -> bool:
        """IPTC text stored in a legacy charset (no UTF-8 marker) that would be garbled."""
        return (
            self.has_iptc
            and self.charset not in UTF8_IPTC
            and self.iptc_nonascii
            and not self.iptc_utf8
        )

    @classmethod
    def from_json(cls, path: str, record: dict) -> FileTags:
        record = dict(record)
        tags = cls(path)
        cs = record.get("IPTC:CodedCharacterSet")
        tags.charset = str(cs) if cs is not None else None
        iptc_keys = [k for k in record if k.startswith("IPTC")]
        tags.has_iptc = bool(iptc_keys)
        texts = [x for k in iptc_keys for x in as_list(record[k]) if not x.isascii()]
        tags.iptc_nonascii = bool(texts)
        if texts and tags.charset not in UTF8_IPTC:
            # exiftool decoded unmarked IPTC as cp1252; text whose bytes are valid UTF-8 is UTF-8
            # (only the marker is missing): read it as such, so nothing turns into mojibake
            tags.iptc_utf8 = all(_as_utf8(x) is not None for x in texts)
            for k in iptc_keys:
                v = record[k]
                fix = [(_as_utf8(x) or x) if not x.isascii() else x for x in as_list(v)]
                record[k] = fix if isinstance(v, list) else fix[0]
                if fix != as_list(v):
                    tags.iptc_fixed[k] = record[k]
        for f, key in JSON_KEYS.items():
            items = as_list(record.get(key))
            if f == XP_KEYWORDS:
                tags.has_xp = key in record
                items = split_xp(items[0]) if items else []
            tags.values[f] = items
        h = record.get("File:ImageDataHash")
        tags.image_hash = str(h) if h else None
        m = record.get("File:MIMEType")
        tags.mime = str(m) if m else None
        keys = set(JSON_KEYS.values()) | EXPECTED_CHANGES
        tags.other = {
            k: v for k, v in record.items() if k.startswith(("XMP-", "IPTC")) and k not in keys
        }
        return tags

    def get(self, f: str) -> list[str]:
        return self.values.get(f, [])

    @property
    def keywords(self) -> list[str]:
        return flat_keywords(self.values)

    def moods(self, root: str = "Mood") -> list[str]:
        """Mood ids named under ``root`` (by us or by any tool using these fields): the eight's
        canonical ids, then custom moods' names as found (issue 27)."""
        found: set[str] = set()
        for f in HIER_FIELDS:
            for entry in self.get(f):
                m = mood_of_entry(f, entry, root)
                if m is not None:
                    found.add(m)
        return ordered(found)


def mood_of_entry(f: str, entry: str, root: str) -> str | None:
    """The mood id an ``R|M`` / ``R/M`` entry of hierarchical field ``f`` names (one of the
    eight, or a custom mood's name: any valid custom name), else None."""
    sep = HIER_FIELDS[f]
    prefix = root + sep
    if entry.startswith(prefix) and sep not in entry[len(prefix) :]:
        try:
            return mood_id(entry[len(prefix) :])
        except ValueError:
            return None
    return None


def leaf(f: str, entry: str) -> str:
    return entry.rsplit(HIER_FIELDS[f], 1)[-1]


def flat_keywords(values: dict[str, list[str]]) -> list[str]:
    """The photo's flat keywords: Subject ∪ IPTC ∪ XP ∪ the leaves of the hierarchical fields,
    first-seen order, no duplicates."""
    seen: dict[str, None] = {}
    for f in FLAT_FIELDS:
        for k in values.get(f, []):
            seen.setdefault(k, None)
    for f in HIER_FIELDS:
        for e in values.get(f, []):
            seen.setdefault(leaf(f, e), None)
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
    added: dict[str, list[str]] = field(default_factory=dict)  # the record after the write

    @property
    def changed(self) -> bool:
        return bool(self.args)

    def diff(self) -> list[tuple[str, list[str], list[str]]]:
        return [
            (f, self.before[f], self.after[f])
            for f in self.after
            if self.before[f] != self.after[f]
        ]


Added = dict[str, list[str]]  # field -> the values moodtagger added to it (the catalog's record)
# in place of a field: the mood words a write made before records were kept (schema 4)
LEGACY = "legacy"


def _without(values: list[str], drop: Iterable[str]) -> list[str]:
    """``values`` less one occurrence of each of ``drop`` (the last one: ours came last)."""
    out = list(values)
    for v in drop:
        for i in range(len(out) - 1, -1, -1):
            if out[i] == v:
                del out[i]
                break
    return out


def plan(
    tags: FileTags,
    moods: Iterable[str],
    fields: Sequence[str],
    root: str,
    added: Added | None = None,
) -> Plan:
    """The file's keywords kept, our moods replaced by ``moods``.

    ``fields`` are the fields to write (see :func:`fields_for`). ``added``: what the catalog
    recorded that moodtagger added to this file's fields (None or empty: no record — a file
    tagged elsewhere, or a write without a catalog). Ours are the ``R|M``/``R/M`` entries and
    the recorded values: a mood change removes a dropped mood's flat word only where the record
    has it; clearing (no moods) also removes every other recorded value (the keywords copied in
    to keep the fields in step), so ``write`` then ``clear`` gives back the fields the file had.
    The user's hierarchical entries are never touched and no flat keyword becomes a new entry
    in a tree. A field whose content would not change gets no arguments, so writing the same
    choice twice writes nothing. ``Plan.added`` is the record after this write.
    """
    added = added or {}
    new = ordered(mood_id(m) for m in moods)
    ours = tags.moods(root)
    drop = {m for m in ours if m not in new}
    dropped_names = {display_name(m) for m in drop}
    new_names = [display_name(m) for m in new]
    # the user's hierarchical entries (everything but the R|M entries) and their leaves
    user_h = {f: [e for e in tags.get(f) if mood_of_entry(f, e, root) is None] for f in HIER_FIELDS}
    if LEGACY in added:  # written before records were kept: those versions marked a word the
        # user typed by a tree entry with that leaf; every other word of theirs is ours
        user_leaves = {leaf(f, e) for f, entries in user_h.items() for e in entries}
        words = [w for w in added[LEGACY] if w not in user_leaves]
        added = {f: words for f in FLAT_FIELDS}
    # the photo's keywords, kept in step in every flat field written (MWG): the flat fields
    # and the leaves of the user's trees, less the words of moods leaving where we added them
    keep_in_step: list[str] = []
    if new:
        user_values = {f: tags.get(f) for f in FLAT_FIELDS}
        for f in FLAT_FIELDS:
            rec = added.get(f, [])
            user_values[f] = _without(tags.get(f), [v for v in rec if v in dropped_names])
        user_values.update(user_h)
        keep_in_step = [k for k in flat_keywords(user_values) if k.strip()]

    before: dict[str, list[str]] = {}
    after: dict[str, list[str]] = {}
    new_added: Added = {}
    args: list[str] = []
    for f in fields:
        cur = tags.get(f)
        rec = [v for v in added.get(f, []) if v in cur]  # recorded and still there
        if f in HIER_FIELDS:
            sep = HIER_FIELDS[f]
            kept = [e for e in cur if mood_of_entry(f, e, root) not in drop]
            if not new:
                kept = _without(kept, rec)
            elif not cur:  # created: the other tree where names allow (it only mirrors it)
                for g, other_sep in HIER_FIELDS.items():
                    if g != f:
                        kept += [
                            e.replace(other_sep, sep)
                            for e in user_h[g]
                            if sep not in e and e.replace(other_sep, sep) not in kept
                        ]
            kept += [v for v in (value(f, m, root) for m in new) if v not in kept]
        else:
            if new:
                kept = _without(cur, [v for v in rec if v in dropped_names])
                kept += [k for k in dict.fromkeys(keep_in_step + new_names) if k not in kept]
            else:
                kept = _without(cur, rec)
            if f == XP_KEYWORDS:
                kept = [k for k in kept if ";" not in k]  # one ';'-separated string
        kept = [k for k in kept if k.strip()]
        before[f], after[f] = cur, kept
        # the record after this write: what was recorded and stays, and what this write adds
        mine = [
            v
            for v in kept
            if (v in rec or v not in cur)
            and (f not in HIER_FIELDS or mood_of_entry(f, v, root) is None)
        ]
        if mine:
            new_added[f] = list(dict.fromkeys(mine))
        if Counter(kept) == Counter(cur):
            continue  # same content (order aside): nothing to write
        if f == XP_KEYWORDS:
            args.append(f"-{f}=" + ";".join(kept))
        elif kept:
            args += [f"-{f}={v}" for v in kept]  # several assignments: the whole list
        else:
            args.append(f"-{f}=")
    pre: tuple[str, ...] = ()
    if any(a.startswith(f"-{IPTC_KEYWORDS}") for a in args):
        if tags.iptc_legacy:
            pre = IPTC_TO_UTF8  # or the user's accented IPTC text would turn into mojibake
            # text that was UTF-8 already is set again as read (the conversion re-encodes all)
            for key, v in tags.iptc_fixed.items():
                if key == JSON_KEYS[IPTC_KEYWORDS]:
                    continue  # written in full above
                for x in as_list(v):
                    check_arg(
                        x,
                        f"{key} (IPTC mixing Latin-1 and UTF-8 text) has a line break; "
                        "it cannot be converted safely:",
                    )
                args += [f"-{key}={x}" for x in as_list(v)]
        elif tags.charset not in UTF8_IPTC:
            args.append("-IPTC:CodedCharacterSet=UTF8")
        if os.path.splitext(tags.path)[1].lower() in {".jpg", ".jpeg", ".jpe", ".jfif"}:
            args.append("-Photoshop:IPTCDigest=new")  # XMP and IPTC are in step again (MWG)
    for a in args:
        check_arg(a, "keyword")
    return Plan(before, after, args, ours, new, pre, new_added)


def other_changes(before: FileTags, after: FileTags) -> str | None:
    """None when every XMP/IPTC text besides the keyword fields reads back the same."""
    for k in sorted(set(before.other) | set(after.other)):
        if before.other.get(k) != after.other.get(k):
            return f"{k} changed from {before.other.get(k)!r} to {after.other.get(k)!r}"
    return None


def matches(tags: FileTags, expected: dict[str, list[str]]) -> str | None:
    """None when ``tags`` hold exactly the expected values (as multisets), else what differs."""
    for f, want in expected.items():
        got = tags.get(f)
        if Counter(got) != Counter(want):
            return f"{f} reads back as {got!r}, expected {want!r}"
    return None
