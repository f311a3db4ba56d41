#!/usr/bin/env python3
"""A real exiftool behind a misbehaving front: used as MOODTAGGER_EXIFTOOL in tests.

WRAP_REAL   the real exiftool
WRAP_MODE   damage-pixel  : after exiftool wrote a new file (-o NEW), flip one byte of its image data
            drop-keyword  : after -o NEW, delete the keyword WRAP_KEYWORD from NEW's XMP-dc:Subject
            edit-original : after -o NEW, another program edits the original in place (new title)
            change-other  : after -o NEW, another XMP text of NEW changes (its title)
            hang-start    : hang before answering anything (as a stuck Perl start-up would)
            hang-stay-open: answer `-ver` (and every one-shot call), but hang when started with
                            -stay_open, with a child process of its own (killing only the
                            wrapper would leave that child behind: the "no orphan" check sees it)
Every other exiftool call passes straight through.
"""

import os
import subprocess
import sys
import time

REAL = os.environ["WRAP_REAL"]
MODE = os.environ.get("WRAP_MODE", "")
args = sys.argv[1:]

if MODE == "hang-start":
    time.sleep(3600)
if args[:1] == ["--hung-child"]:
    time.sleep(3600)
if MODE == "hang-stay-open" and "-stay_open" in args:
    subprocess.Popen([sys.executable, __file__, "--hung-child"])
    time.sleep(3600)
if "-stay_open" not in args:
    os.execv(REAL, [REAL, *args])


def damage_pixel(path: str) -> None:
    data = bytearray(open(path, "rb").read())
    sos = data.find(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    i = start + (len(data) - start) // 2
    while data[i] == 0xFF or data[i - 1] == 0xFF or data[i] ^ 0x10 == 0xFF:
        i += 1
    data[i] ^= 0x10
    with open(path, "r+b") as fh:
        fh.write(data)


def after(cmd: list[bytes]) -> None:
    if b"-o" not in cmd:
        return
    new = os.fsdecode(cmd[cmd.index(b"-o") + 1])
    if new.startswith("%d"):
        new = os.path.join(os.path.dirname(os.fsdecode(cmd[-1])), new[2:])
    original = os.fsdecode(cmd[-1])
    if not os.path.isfile(new):
        return
    if MODE == "damage-pixel":
        damage_pixel(new)
    elif MODE == "drop-keyword":
        subprocess.run(
            [
                REAL,
                "-q",
                "-overwrite_original",
                f"-XMP-dc:Subject-={os.environ['WRAP_KEYWORD']}",
                new,
            ],
            check=True,
        )
    elif MODE == "change-other":
        subprocess.run(
            [REAL, "-q", "-overwrite_original", "-XMP-dc:Title=garbled", new], check=True
        )
    elif MODE == "edit-original":
        subprocess.run(
            [
                REAL,
                "-q",
                "-overwrite_original_in_place",
                "-XMP-dc:Title=edited elsewhere",
                original,
            ],
            check=True,
        )


child = subprocess.Popen([REAL, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
out = sys.stdout.buffer
cmd: list[bytes] = []
for line in sys.stdin.buffer:
    child.stdin.write(line)
    word = line.rstrip(b"\n")
    if not word.startswith(b"-execute"):
        cmd.append(word)
        continue
    child.stdin.flush()
    if word == b"-execute" and cmd[-2:] == [b"-stay_open", b"False"]:
        break
    buf = b""
    marker = b"{ready" + word[len(b"-execute") :] + b"}"
    while marker not in buf:
        chunk = os.read(child.stdout.fileno(), 65536)
        if not chunk:
            sys.exit(1)
        buf += chunk
    body = [c for c in cmd if not c.startswith((b"-echo", b"=${status}"))]
    after(body)
    out.write(buf)
    out.flush()
    cmd = []
child.stdin.close()
out.write(child.stdout.read())
out.flush()
sys.exit(child.wait())
