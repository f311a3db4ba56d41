"""Verify a JPEG write without asking exiftool to read the new file back.

:func:`proves_write` holds the original and the file exiftool wrote side by side and proves,
from their bytes, what the verify read would have checked — and more:

* every byte outside the XMP packet is identical: every segment before the image data (EXIF,
  IPTC, ICC, the tables, the frame header ... whole, in order) and everything from the first
  start-of-scan to the end of the file (the image data, whole, no sampling), which ends at
  the end-of-image marker (no trailer: exiftool reads some trailers as metadata);
* the XMP packets, parsed as RDF (:func:`_rdf`), hold the same properties, qualifiers and
  namespace prefixes except the keyword fields, and those hold exactly the planned values.

When it cannot prove it (a form of XMP it does not model, extended XMP, IPTC or XPKeywords
written, anything that differs), it says False and the caller reads the file back with
exiftool as before: it never fails a file itself, so it can only spare a read, never pass a
file the exiftool read would fail. A keyword field that IPTC or EXIF holds (IPTC:Keywords,
XPKeywords) counts only when its bytes are unchanged and the plan leaves it as read before.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any
from xml.etree.ElementTree import ParseError, XMLPullParser

from moodtagger.core.metadata.fields import (
    DIGIKAM,
    HIERARCHICAL,
    IPTC_KEYWORDS,
    JSON_KEYS,
    SUBJECT,
    XP_KEYWORDS,
    FileTags,
)
from moodtagger.core.metadata.safefile import same_bytes

XMP_SIG = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_SIG = b"http://ns.adobe.com/xmp/extension/\x00"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
META = "adobe:ns:meta/"
# the keyword fields in XMP: (namespace, property) and the array they are written as
XMP_KEYWORDS = {
    SUBJECT: ("http://purl.org/dc/elements/1.1/", "subject", "Bag"),
    HIERARCHICAL: ("http://ns.adobe.com/lightroom/1.0/", "hierarchicalSubject", "Bag"),
    DIGIKAM: ("http://www.digikam.org/ns/1.0/", "TagsList", "Seq"),
}
_KEYS = {f"{{{ns}}}{name}" for ns, name, _ in XMP_KEYWORDS.values()}
_KEYWORD_NS = {ns for ns, _, _ in XMP_KEYWORDS.values()}
_PACKET_NS = _KEYWORD_NS | {RDF, META}  # namespaces any packet with keywords declares
_NONE = {"about": ("text", "", ())}  # the properties of a file without XMP
_OUTSIDE_XMP = (IPTC_KEYWORDS, XP_KEYWORDS)


class _Unknown(Exception):
    """A form this check does not model: the caller reads the file back instead."""


def _layout(fh: Any) -> tuple[list[bytes], list[bytes], int, int]:
    """A JPEG's segments before its first start-of-scan (all but the XMP packet, whole), its
    XMP packets, the start-of-scan's offset and the file's size."""
    size = os.fstat(fh.fileno()).st_size
    fh.seek(0)
    if fh.read(2) != b"\xff\xd8":
        raise _Unknown
    other: list[bytes] = []
    xmp: list[bytes] = []
    pos = 2
    while pos + 4 <= size:
        fh.seek(pos)
        head = fh.read(4)
        if len(head) < 4 or head[0] != 0xFF or head[1] in (0xFF, 0x01) or 0xD0 <= head[1] <= 0xD9:
            raise _Unknown  # fill bytes, stand-alone markers: not what exiftool writes
        length = int.from_bytes(head[2:4], "big")
        if length < 2:
            raise _Unknown
        if head[1] == 0xDA:
            return other, xmp, pos, size
        body = fh.read(length - 2)
        if len(body) != length - 2:
            raise _Unknown
        if head[1] == 0xE1 and body.startswith(EXTENDED_SIG):
            raise _Unknown
        if head[1] == 0xE1 and body.startswith(XMP_SIG):
            xmp.append(body[len(XMP_SIG) :])
        elif RDF.encode() in body:  # XMP elsewhere (a Photoshop resource...): not modelled
            raise _Unknown
        else:
            other.append(head + body)
        pos += 2 + length
    raise _Unknown


def _text(el: Any) -> None:
    """Only white space between child elements (else it is mixed content)."""
    if (el.text or "").strip() or any((c.tail or "").strip() for c in el):
        raise _Unknown


def _value(el: Any) -> tuple:
    """A property element's value: its text, resource, array or structure, with its
    qualifiers (xml:lang, attributes as fields)."""
    attrs = []
    parse_type = None
    resource = None
    for k, v in el.attrib.items():
        if k == f"{{{RDF}}}parseType":
            parse_type = v
        elif k == f"{{{RDF}}}resource":
            resource = v
        elif k.startswith(f"{{{RDF}}}") or not k.startswith("{"):
            raise _Unknown  # rdf:ID, rdf:nodeID, rdf:datatype, unqualified attributes
        else:
            attrs.append((k, v))
    attrs.sort()
    kids = list(el)
    if parse_type is not None:
        if parse_type != "Resource" or resource is not None:
            raise _Unknown
        _text(el)
        return ("struct", tuple(attrs), _props(kids))
    if resource is not None:
        if kids or (el.text or "").strip():
            raise _Unknown
        return ("resource", resource, tuple(attrs))
    if not kids:
        return ("text", el.text or "", tuple(attrs))
    _text(el)
    if len(kids) != 1:
        raise _Unknown
    kid = kids[0]
    if kid.tag == f"{{{RDF}}}Description":
        return ("struct", tuple(attrs), _description(kid))
    if kid.tag not in (f"{{{RDF}}}Bag", f"{{{RDF}}}Seq", f"{{{RDF}}}Alt") or kid.attrib:
        raise _Unknown
    _text(kid)
    if any(li.tag != f"{{{RDF}}}li" for li in kid):
        raise _Unknown
    return (kid.tag, tuple(attrs), tuple(_value(li) for li in kid))


def _props(elements: list) -> tuple:
    out: dict[str, tuple] = {}
    for el in elements:
        if el.tag in out or el.tag.startswith(f"{{{RDF}}}") or not el.tag.startswith("{"):
            raise _Unknown
        out[el.tag] = _value(el)
    return tuple(sorted(out.items()))


def _description(desc: Any) -> tuple:
    """A structure's fields: attributes and property elements."""
    fields: dict[str, tuple] = {}
    for k, v in desc.attrib.items():
        if k.startswith(f"{{{RDF}}}") or not k.startswith("{"):
            raise _Unknown
        fields[k] = ("text", v, ())
    _text(desc)
    for k, v in _props(list(desc)):
        if k in fields:
            raise _Unknown
        fields[k] = v
    return tuple(sorted(fields.items()))


def _rdf(packet: bytes) -> tuple[dict[str, tuple], frozenset, tuple]:
    """An XMP packet's top-level properties ({namespace}name -> value), the namespace prefixes
    it declares, and x:xmpmeta's attributes other than the toolkit (which a write changes)."""
    if b"<!" in packet:  # DOCTYPE, ENTITY, CDATA, comments: not modelled
        raise _Unknown
    parser: Any = XMLPullParser(events=("start-ns", "start"))
    try:
        parser.feed(packet)
        parser.close()
    except (ParseError, ValueError):
        raise _Unknown from None
    events: list[tuple[str, Any]] = list(parser.read_events())
    spaces = frozenset(v for ev, v in events if ev == "start-ns")
    root: Any = next((v for ev, v in events if ev == "start"), None)
    if root is None:
        raise _Unknown
    meta: tuple = ()
    if root.tag == f"{{{META}}}xmpmeta":
        meta = tuple(sorted((k, v) for k, v in root.attrib.items() if k != f"{{{META}}}xmptk"))
        _text(root)
        if len(root) != 1:
            raise _Unknown
        root = root[0]
    if root.tag != f"{{{RDF}}}RDF" or root.attrib:
        raise _Unknown
    _text(root)
    props: dict[str, tuple] = {}
    abouts: set[str] = set()
    for desc in root:
        if desc.tag != f"{{{RDF}}}Description":
            raise _Unknown
        abouts.add(desc.attrib.get(f"{{{RDF}}}about", ""))
        for k, v in desc.attrib.items():
            if k == f"{{{RDF}}}about":
                continue
            if k.startswith(f"{{{RDF}}}") or not k.startswith("{") or k in props:
                raise _Unknown
            props[k] = ("text", v, ())
        _text(desc)
        for k, v in _props(list(desc)):
            if k in props:
                raise _Unknown
            props[k] = v
    if len(abouts) > 1:
        raise _Unknown
    props["about"] = ("text", abouts.pop() if abouts else "", ())
    return props, spaces, meta


def _words(value: tuple | None, kind: str) -> list[str]:
    """The plain entries of a keyword array (anything else: not modelled)."""
    if value is None:
        return []
    tag, attrs, items = value
    if tag != f"{{{RDF}}}{kind}" or attrs:
        raise _Unknown
    out = []
    for item in items:
        if item[0] != "text" or item[2]:
            raise _Unknown
        out.append(item[1])
    return out


_EXIF = b"Exif\x00\x00"
# IFD0 tags exiftool reads keyword fields from: XPKeywords, IPTC-NAA, XMP (ApplicationNotes)
_EXIF_KEYWORD_TAGS = {0x9C9E, 0x83BB, 0x02BC}


def _ifd0_tags(tiff: bytes) -> set[int]:
    """The tags of an EXIF block's first directory (IFD0)."""
    order = {b"II*\x00": "little", b"MM\x00*": "big"}.get(tiff[:4])
    if order is None or len(tiff) < 8:
        raise _Unknown
    at = int.from_bytes(tiff[4:8], order)  # type: ignore[arg-type]
    if at + 2 > len(tiff):
        raise _Unknown
    n = int.from_bytes(tiff[at : at + 2], order)  # type: ignore[arg-type]
    if at + 2 + 12 * n > len(tiff):
        raise _Unknown
    return {
        int.from_bytes(tiff[at + 2 + 12 * i : at + 4 + 12 * i], order)  # type: ignore[arg-type]
        for i in range(n)
    }


def read_ahead(path: str) -> FileTags | None:
    """What exiftool's read would give the writer for a JPEG that holds no keyword field at all
    (no IPTC, no XPKeywords, no XMP keyword property: the first write of a photo), from its
    bytes; None for any other file, or any doubt (exiftool reads it). The walk is the one
    :func:`proves_write` makes: a file it understands here is one it can prove written."""
    try:
        with open(path, "rb") as fh:
            other, xmp, _, size = _layout(fh)
            fh.seek(size - 2)
            if fh.read(2) != b"\xff\xd9":  # a trailer (some hold IPTC)
                return None
        if len(xmp) > 1:
            return None
        for seg in other:
            if seg[1] == 0xED:  # APP13: Photoshop resources (IPTC)
                return None
            if seg[1] == 0xE1 and seg[4:10] == _EXIF:
                if _ifd0_tags(seg[10:]) & _EXIF_KEYWORD_TAGS:
                    return None
        if xmp:
            if any(w in xmp[0] for w in (b"subject", b"hierarchicalSubject", b"TagsList")):
                return None
            props, _, _ = _rdf(xmp[0])  # (parsed: one this module can compare)
            if _KEYS & props.keys():
                return None
    except (_Unknown, OSError, RecursionError, UnicodeError):
        return None
    return FileTags(path, values={f: [] for f in JSON_KEYS}, mime="image/jpeg", unread=True)


def proves_write(
    original: str, written: str, expected: dict[str, list[str]], before: FileTags
) -> bool:
    """True when ``written`` is ``original`` with only its XMP keyword fields changed, and
    those hold exactly ``expected`` (as multisets, as :func:`fields.matches` compares); False
    when that cannot be proved from the bytes (the caller reads ``written`` back instead).
    ``before``: what exiftool read from ``original`` (the keyword fields outside XMP)."""
    try:
        with open(original, "rb") as fa, open(written, "rb") as fb:
            other_a, xmp_a, sos_a, size_a = _layout(fa)
            other_b, xmp_b, sos_b, size_b = _layout(fb)
            if other_a != other_b or len(xmp_a) > 1 or len(xmp_b) != 1:
                return False
            left = size_a - sos_a
            if left != size_b - sos_b or not same_bytes(fa, sos_a, fb, sos_b, left):
                return False
            fb.seek(size_b - 2)
            if fb.read(2) != b"\xff\xd9":  # a trailer (exiftool reads some as metadata)
                return False
        old, old_ns, old_meta = _rdf(xmp_a[0]) if xmp_a else (_NONE, frozenset(), ())
        new, new_ns, new_meta = _rdf(xmp_b[0])
        if old_meta != new_meta:
            return False
        if {k: v for k, v in old.items() if k not in _KEYS} != {
            k: v for k, v in new.items() if k not in _KEYS
        }:
            return False
        if {s for s in old_ns if s[1] not in _PACKET_NS} != {
            s for s in new_ns if s[1] not in _PACKET_NS
        }:
            return False
        for f, want in expected.items():
            if f in XMP_KEYWORDS:
                ns, name, kind = XMP_KEYWORDS[f]
                got = _words(new.get(f"{{{ns}}}{name}"), kind)
            elif f in _OUTSIDE_XMP:  # its bytes are unchanged: it reads as before
                got = before.get(f)
            else:
                return False
            if Counter(got) != Counter(want):
                return False
        return True
    except (_Unknown, OSError, RecursionError, UnicodeError):
        return False
