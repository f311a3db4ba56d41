"""`moodtagger gui`: the desktop app's entry point.

Opens the PySide6 app (``moodtagger.gui.app.run``). Where it cannot run — PySide6 not installed
(it is the ``[gui]`` extra), no display, or a ``DISPLAY`` no X server answers on — it says so in
one sentence and shows how to do the same
work with the CLI, instead of failing with a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import os

from moodtagger.cli.common import err


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "gui",
        parents=[common],
        help="open the desktop app",
        description="Open the desktop app on DIR (default: the catalogued library).",
    )
    p.add_argument("dir", nargs="?", metavar="DIR")
    p.add_argument(
        "--screenshot", metavar="FILE.png", help="save a screenshot of the main window and exit"
    )
    p.add_argument("--select", metavar="PATH", help="select this photo when the window opens")
    p.add_argument(
        "--why", action="store_true", help="show the why-this-mood heat map of the selected photo"
    )
    p.add_argument(
        "--view", choices=("grid", "map"), default="grid", help="open the grid or the mood map"
    )
    p.set_defaults(func=cmd_gui)


CLI_HINT = (
    "use the command line: `moodtagger scan DIR` indexes and predicts, "
    "`moodtagger list --mood awe --min 0.4` filters, `moodtagger export -o moods.csv` exports "
    "(see `moodtagger --help`)"
)


def display_problem() -> str | None:
    """Why Qt's X11 platform could not open ``$DISPLAY``, checked before Qt tries (Qt aborts the
    process with a misleading "xcb-cursor0 is needed"); None when it can, or when Qt will not
    use X11 (another ``QT_QPA_PLATFORM``, or Wayland)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    display = os.environ.get("DISPLAY", "")
    if not display or (platform and not platform.startswith("xcb")):
        return None
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return None  # Qt picks Wayland
    if _xcb_connects(display):
        return None
    return f"cannot reach the display {display} (DISPLAY is set, but no X server answers there)"


def _xcb_connects(display: str) -> bool:
    """Does libxcb connect to ``display`` as Qt would (socket and authorisation)? Without libxcb
    (then Qt's xcb platform cannot load either) the answer is left to Qt."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("xcb")
    if name is None:
        return True
    try:
        xcb = ctypes.CDLL(name)
    except OSError:
        return True
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(display.encode(), None)
    try:
        return conn is not None and xcb.xcb_connection_has_error(conn) == 0
    finally:
        if conn is not None:
            xcb.xcb_disconnect(conn)


def cmd_gui(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("PySide6") is None:
        err(
            "moodtagger: the desktop app needs PySide6 (pip install 'moodtagger[gui]', or run "
            f"packaging/bootstrap.sh app); meanwhile {CLI_HINT}"
        )
        return 2
    if not (
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM")
    ):
        err(f"moodtagger: no display found; {CLI_HINT}")
        return 2
    problem = display_problem()
    if problem:
        err(f"moodtagger: {problem}; {CLI_HINT}")
        return 2
    from moodtagger.gui.app import run

    return int(
        run(
            args.dir,
            screenshot=args.screenshot,
            catalog=args.catalog,
            select=args.select,
            why=args.why,
            view=args.view,
        )
    )
