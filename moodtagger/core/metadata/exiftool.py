"""One long-lived exiftool (``-stay_open``), owned by one thread, guarded by a watchdog.

Starting exiftool costs ~0.1–0.3 s of Perl start-up per call; a photographer's batch of thousands
of files must not pay that per file. :class:`ExifToolService` keeps a single ``exiftool
-stay_open True -@ -`` process (through pyexiftool) and gives it to exactly one owner thread.
Any thread may call :meth:`ExifToolService.execute`; requests queue up and run one at a time.
There is no process-wide instance: the :class:`~moodtagger.core.library.Library` owns one
(started on first use, closed by ``Library.close``), and a call without a catalog makes its own
for that call (``with ExifToolService() as service: ...``).

Watchdog: a caller waits at most ``timeout`` seconds. When exiftool hangs past that, or dies,
the process is killed with any processes it started (also while it starts: its pid is published
as soon as it exists), the request in flight fails with :class:`ExifToolError`, and the next
request starts a fresh process. Nothing else is affected. When the restarted exiftool hangs too
(two timeouts in a row), the service gives up: that request and every later one fail at once
with :class:`ExifToolHung` ("exiftool did not answer within N s"), so a batch stops instead of
paying a timeout per file; :meth:`ExifToolService.retry` (a new write batch) tries again.

Arguments travel to exiftool one per line (``-@ -``): a line break inside an argument would split
it into two arguments, i.e. inject an option. :func:`check_arg` refuses every control character;
callers pass absolute paths only, so a file name beginning with ``-`` is never read as an option.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import random
import re
import select
import signal
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import exiftool as pyexiftool

from moodtagger.core.errors import MoodtaggerError
from moodtagger.core.tools import exiftool_path, exiftool_version

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0
_BLOCK_SIZE = 65536  # bytes per read of exiftool's pipes (a chunk's JSON is tens of KB)
_CONTROL = {chr(c) for c in range(32)} | {"\x7f"}


class ExifToolError(MoodtaggerError):
    """exiftool failed, hung or died while running one request (message is one sentence)."""


class ExifToolHung(ExifToolError):
    """exiftool hung again right after a restart: the service gave up (no more restarts)."""


class UnsafeArgument(MoodtaggerError, ValueError):
    """A value or file name that cannot be passed to exiftool safely (control characters)."""


def check_arg(text: str, what: str = "value") -> str:
    """Refuse control characters (line breaks would inject exiftool arguments)."""
    bad = sorted({repr(ch) for ch in text if ch in _CONTROL})
    if bad:
        raise UnsafeArgument(f"{what} contains control characters ({', '.join(bad)}): {text!r}")
    return text


def _read_until(fd: int, end: bytes) -> bytes:
    """Read exiftool's pipe ``fd`` up to the marker ``end``. An end of file (exiftool died or
    was killed) raises instead of spinning forever on empty reads: the watchdog depends on this
    (pyexiftool's own reader loops on them)."""
    chunks: list[bytes] = []
    tail = b""
    while not tail.strip().endswith(end):
        ready, _, _ = select.select([fd], [], [])
        if fd in ready:
            chunk = os.read(fd, _BLOCK_SIZE)
            if not chunk:
                raise ExifToolError("exiftool closed its output (it exited or was killed)")
            chunks.append(chunk)
            tail = (tail + chunk)[-(len(end) + 8) :]
    return b"".join(chunks)


class _ExifTool(pyexiftool.ExifTool):
    """pyexiftool's ExifTool (it starts, stops and hands over the ``-stay_open`` process) with
    two things of our own: it tells its pid before the start-up handshake (which can hang), and
    :meth:`execute` writes the request and reads the reply itself (:func:`_read_until`), the
    same ``-executeNNN`` / ``{readyNNN}`` / ``-echo4 =${status}=postNNN`` exchange as
    pyexiftool's, keeping ``(stdout, stderr, status)`` in :attr:`reply`."""

    on_spawn = None
    reply: tuple[bytes, bytes, int] = (b"", b"", 0)

    def _parse_ver(self):  # called by run() right after Popen, before anything is read
        if self.on_spawn is not None:
            self.on_spawn(self._process.pid)
        return super()._parse_ver()

    def execute(self, *params: str | bytes, raw_bytes: bool = False) -> str | bytes:
        proc = self._process
        if proc is None or proc.stdin is None or proc.stdout is None or proc.stderr is None:
            raise ExifToolError("exiftool is not running")
        tag = random.randint(100000, 999999)
        ready, post = f"{{ready{tag}}}".encode(), f"post{tag}".encode()
        cmd = [p if isinstance(p, bytes) else p.encode("utf-8") for p in params]
        cmd += [b"-echo4", b"=${status}=" + post, f"-execute{tag}\n".encode()]
        proc.stdin.write(b"\n".join(cmd))
        proc.stdin.flush()
        out = _read_until(proc.stdout.fileno(), ready).strip()[: -len(ready)]
        err = _read_until(proc.stderr.fileno(), post).strip()[: -len(post)]
        if not err.endswith(b"="):
            raise ExifToolError("exiftool did not report its exit status (too old an exiftool?)")
        cut = err.rfind(b"=", 0, -1)
        self.reply = (out, err[:cut], int(err[cut + 1 : -1]))
        return out if raw_bytes else out.decode("utf-8")


@dataclass
class Reply:
    stdout: str
    stderr: str
    status: int


class ExifToolService:
    """Owner thread + request queue around one pyexiftool ``ExifTool``. Thread-safe."""

    def __init__(self, executable: str | None = None, *, timeout: float = DEFAULT_TIMEOUT):
        self.executable = executable or exiftool_path()
        self.version = exiftool_version() if executable is None else None
        self.timeout = timeout
        self.restarts = 0
        self.gave_up: str | None = None  # the sentence, once exiftool hung twice in a row
        self._timeouts = 0  # timeouts in a row (a reply resets it)
        self._queue: queue.Queue[tuple[tuple[str, ...], Future[Reply]] | None] = queue.Queue()
        self._pid: int | None = None
        self._doomed = False  # kill the exiftool being started as soon as it has a process id
        self._pid_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="moodtagger-exiftool", daemon=True)
        self._thread.start()

    # -- public -----------------------------------------------------------------------------
    def execute(self, *args: str, timeout: float | None = None) -> Reply:
        """Run one exiftool command (arguments as separate strings) and return its output."""
        if self._closed:
            raise ExifToolError("the exiftool service was closed")
        if self.gave_up:
            raise ExifToolHung(self.gave_up)
        for a in args:
            check_arg(a, "exiftool argument")
        fut: Future[Reply] = Future()
        self._queue.put((args, fut))
        limit = self.timeout if timeout is None else timeout
        try:
            reply = fut.result(limit)
        except FutureTimeout:
            # still queued behind another request that hangs (whose own caller kills it):
            # withdrawn, never run. Killing here would kill that one, and this request would
            # then run on a fresh exiftool with nobody left to watch it
            if not fut.cancel():
                self._kill()
                try:
                    return fut.result(30)  # it answered just as it was killed
                except Exception:  # the killed request's error (the kill always ends the read)
                    pass
            message = f"exiftool did not answer within {limit:g} s"
            with self._pid_lock:
                self._timeouts += 1
                if self._timeouts >= 2:  # it was restarted and hung again: stop trying
                    self.gave_up = message
            if self.gave_up:
                raise ExifToolHung(message) from None
            raise ExifToolError(f"{message}; it was restarted") from None
        with self._pid_lock:
            self._timeouts = 0
        return reply

    def start(self) -> None:
        """Start the exiftool process now, in the background (its Perl start-up overlaps the
        caller's work instead of delaying the first request); a no-op when it runs."""
        if self._closed or self.gave_up:
            return

        def first() -> None:  # a request like any other, under the watchdog
            try:
                self.execute("-ver")
            except Exception:  # (the next request meets the same problem and reports it)
                pass

        threading.Thread(target=first, name="moodtagger-exiftool-start", daemon=True).start()

    def execute_json(
        self, *args: str, timeout: float | None = None
    ) -> tuple[list[dict[str, Any]], Reply]:
        """exiftool's records for a read request, one per file, every value exactly the text
        exiftool holds (a ``str``, or a list of them) — never a number or a boolean.

        The only way moodtagger reads metadata. exiftool's ``-j`` prints ``1.50``, ``1E3``,
        ``-0`` as JSON numbers and ``True``/``FALSE`` as ``true``/``false``; read as JSON they
        would come back as ``1.5``, ``1000.0``, ``0``, ``True``. exiftool 12.88+ quotes every
        value with ``-api StructFormat=JSONQ``; older ones ignore that option, so number
        literals are kept as the text they are (:func:`parse_json`) and, only where a boolean
        came back (its case is lost), the request is asked again as ``-php``, which prints
        booleans verbatim (:func:`parse_php`).
        """
        reply = self.execute("-j", "-api", "StructFormat=JSONQ", *args, timeout=timeout)
        records = parse_json(reply.stdout)
        if _has_bool(records):
            reply = self.execute("-php", *args, timeout=timeout)
            records = parse_php(reply.stdout, binary="-b" in args)
        return records, reply

    def retry(self) -> None:
        """Try again after giving up (a new batch): the next request starts a fresh exiftool."""
        with self._pid_lock:
            self.gave_up = None
            self._timeouts = 0

    @property
    def pid(self) -> int | None:
        with self._pid_lock:
            return self._pid

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=30)
        if self._thread.is_alive():  # stuck in a hung command: kill it so the thread can end
            self._kill()
            self._thread.join(timeout=10)

    def __enter__(self) -> ExifToolService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- owner thread -----------------------------------------------------------------------
    def _kill(self) -> None:
        with self._pid_lock:
            pid = self._pid
            # the request is still starting its exiftool (no process id yet, a slow start on
            # a busy machine): that process is killed the moment it exists
            self._doomed = pid is None
        if pid is not None:
            log.warning("exiftool (pid %s) hung past its timeout: killing it", pid)
            _kill_tree(pid)

    def _start(self) -> _ExifTool:
        et = _ExifTool(
            executable=self.executable,
            common_args=["-charset", "filename=utf8", "-charset", "utf8"],
            encoding="utf-8",
        )

        def spawned(pid: int) -> None:
            with self._pid_lock:
                self._pid = pid  # the watchdog can kill it from now on
                doomed, self._doomed = self._doomed, False
            if doomed:
                log.warning("exiftool (pid %s) started past its timeout: killing it", pid)
                _kill_tree(pid)

        et.on_spawn = spawned  # type: ignore[assignment]  # our hook on the subclass (None = off)
        try:
            et.run()
        except BaseException:
            self._stop(et)  # hung at start-up and killed, or not an exiftool: reap it
            raise
        return et

    def _stop(self, et: pyexiftool.ExifTool | None) -> None:
        with self._pid_lock:
            self._pid = None
        if et is None:
            return
        if _alive(et):
            try:
                et.terminate(timeout=5)
                return
            except Exception:
                pass
        proc = getattr(et, "_process", None)  # dead or stuck: kill and reap, no zombie
        if proc is not None:
            try:
                proc.kill()
                proc.wait(5)
            except Exception:
                pass
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    if pipe is not None:
                        pipe.close()
                except OSError:
                    pass
        et._running = False  # noqa: SLF001 - so pyexiftool's __del__ leaves it alone

    def _loop(self) -> None:
        et: _ExifTool | None = None
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                args, fut = item
                with self._pid_lock:
                    self._doomed = False  # (a late kill meant for an earlier request)
                if not fut.set_running_or_notify_cancel():
                    continue
                if self.gave_up:  # queued by another thread before the service gave up
                    fut.set_exception(ExifToolHung(self.gave_up))
                    continue
                try:
                    if et is None or not _alive(et):
                        if et is not None:  # died between requests
                            self._stop(et)
                            self.restarts += 1
                        et = self._start()
                    et.execute(*[os.fsencode(a) for a in args], raw_bytes=True)
                    out, err, status = et.reply
                    reply = Reply(
                        out.decode("utf-8", "surrogateescape"),
                        err.decode("utf-8", "replace"),
                        status,
                    )
                except Exception as exc:
                    # hung and killed by the watchdog, or died mid-command: fail this request,
                    # start a fresh process for the next one
                    self._stop(et)
                    et = None
                    self.restarts += 1
                    fut.set_exception(
                        ExifToolError(
                            f"exiftool stopped while working ({exc}); it was restarted"
                            if not isinstance(exc, ExifToolError)
                            else f"{exc}; it was restarted"
                        )
                    )
                else:
                    fut.set_result(reply)
        finally:
            self._stop(et)


def parse_json(text: str) -> list[dict[str, Any]]:
    """exiftool's ``-j`` output with every number literal kept as its text (``1.50`` stays
    ``"1.50"``); booleans stay booleans (see :meth:`ExifToolService.execute_json`)."""
    if not text.strip():
        return []
    try:
        out = json.loads(text, parse_float=str, parse_int=str, parse_constant=str)
    except json.JSONDecodeError as exc:
        raise ExifToolError(f"exiftool returned unreadable JSON ({exc})") from None
    return out if isinstance(out, list) else [out]


def _has_bool(value: object) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, dict):
        return any(_has_bool(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_bool(v) for v in value)
    return False


_PHP_TOKEN = re.compile(
    r"""\s*(?:(?P<open>Array\()|(?P<close>\))|(?P<arrow>=>)|(?P<comma>,)|(?P<end>;)
    |"(?P<str>(?:[^"\\]|\\.)*)"|(?P<num>-?[0-9][0-9.eE+-]*))""",
    re.X | re.S,
)
_PHP_ESCAPES = re.compile(r"\\(x[0-9A-Fa-f]{2}|.)", re.S)
_PHP_CHAR = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _php_string(body: str, binary: bool) -> str:
    def unescape(m: re.Match[str]) -> str:
        e = m.group(1)
        return chr(int(e[1:], 16)) if e[0] == "x" and len(e) == 3 else _PHP_CHAR.get(e, e)

    text = _PHP_ESCAPES.sub(unescape, body)
    raw = text.encode("utf-8", "surrogateescape")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        if binary:  # as -j -b gives it
            return "base64:" + base64.b64encode(raw).decode("ascii")
        return raw.decode("utf-8", "replace")
    return text


def parse_php(text: str, *, binary: bool = False) -> list[dict[str, Any]]:
    """exiftool's ``-php`` output (the same records as ``-j``; numbers unquoted but kept as
    text here, booleans verbatim). ``binary``: the request had ``-b``, so data that is not
    UTF-8 text comes back as ``base64:…`` as with ``-j``."""
    tokens = [
        (m.lastgroup, m.group(m.lastgroup or 0))
        for m in _PHP_TOKEN.finditer(text)
        if m.lastgroup is not None
    ]
    if not tokens:
        return []
    pos = 0

    def value() -> Any:
        nonlocal pos
        kind, tok = tokens[pos]
        pos += 1
        if kind == "str":
            return _php_string(tok, binary)
        if kind == "num":
            return tok
        if kind != "open":
            raise ExifToolError(f"exiftool returned unreadable PHP output (at {tok!r})")
        items: list[Any] = []
        keyed: dict[str, Any] = {}
        while tokens[pos][0] != "close":
            item = value()
            if tokens[pos][0] == "arrow":
                pos += 1
                keyed[str(item)] = value()
            else:
                items.append(item)
            if tokens[pos][0] == "comma":
                pos += 1
        pos += 1
        return keyed if keyed else items

    try:
        out = value()
    except IndexError:
        raise ExifToolError("exiftool returned truncated PHP output") from None
    return out if isinstance(out, list) else [out]


def _descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (Linux /proc; empty where there is none)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids = [int(k) for k in fh.read().split()]
        except (OSError, ValueError):
            continue
        for kid in kids:
            out += [kid, *_descendants(kid)]
    return out


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every process below it (an exiftool started through a wrapper
    script would otherwise stay behind, orphaned): children are stopped first so none can
    start another meanwhile, then killed."""
    tree = [pid, *_descendants(pid)]
    for p in tree:
        try:
            os.kill(p, signal.SIGSTOP)
        except ProcessLookupError:
            pass
    for p in [*_descendants(pid), *tree]:  # (again: one may have forked before it stopped)
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _alive(et: pyexiftool.ExifTool) -> bool:
    proc = getattr(et, "_process", None)  # pyexiftool's .running warns when it died
    return proc is not None and proc.poll() is None
