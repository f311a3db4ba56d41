#!/usr/bin/env bash
# Set up moodtagger on a fresh Linux machine and run it, or its tests. Idempotent; the second
# run skips every install whose inputs did not change.
#
#   packaging/bootstrap.sh app [ARGS...]   install what the app needs (.[gui] + ONNX Runtime;
#                                          torch only with an NVIDIA GPU or MOODTAGGER_TORCH=1),
#                                          then open the GUI (no display: a CLI demo)
#   packaging/bootstrap.sh test [PYTEST ARGS...]   install everything (.[dev]: torch, training,
#                                          Ray, test tools), then run the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${MOODTAGGER_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3}
say() { printf '\033[1m[moodtagger]\033[0m %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_install() {  # apt_install PKG... (quietly; returns non-zero when apt is unusable)
  command -v apt-get >/dev/null || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
    || { as_root apt-get update -qq >/dev/null 2>&1 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; }
}

VENDORED_EXIFTOOL="$ROOT/.tools/node_modules/exiftool-vendored.pl/bin/exiftool"

ensure_exiftool() {
  # exiftool is a real dependency (metadata writes). moodtagger needs 12.15+; 13.x also writes
  # WebP and computes ImageDataHash (used to verify writes). Use the one on PATH when it is 13+;
  # else the pure-Perl exiftool inside npm's exiftool-vendored.pl (needs only perl + npm, no
  # root) in .tools/; else Debian's package (signed, security-updated; 12.57 on Debian 12).
  local vendored="${VENDORED_EXIFTOOL%/exiftool}"
  if command -v exiftool >/dev/null && [ "$(exiftool -ver | cut -d. -f1)" -ge 13 ]; then return; fi
  if [ ! -x "$vendored/exiftool" ] && command -v npm >/dev/null; then
    say "installing exiftool 13 from npm (exiftool-vendored.pl) into .tools/"
    npm install --silent --no-audit --no-fund --prefix "$ROOT/.tools" exiftool-vendored.pl >/dev/null 2>&1 \
      || say "npm could not install exiftool-vendored.pl"
  fi
  if [ -x "$vendored/exiftool" ]; then export PATH="$vendored:$PATH"; return; fi
  if command -v exiftool >/dev/null; then
    say "using exiftool $(exiftool -ver) from PATH (13+ is needed to write WebP files)"; return
  fi
  say "installing exiftool (Debian package libimage-exiftool-perl)"
  apt_install libimage-exiftool-perl || { say "could not install exiftool: writing keywords will not work"; return; }
}

ensure_system_libs() {
  # Qt's offscreen/xcb platforms need a few shared libraries that slim images lack.
  local need=()
  ldconfig -p 2>/dev/null | grep -q libEGL.so.1 || need+=(libegl1)
  ldconfig -p 2>/dev/null | grep -q libGL.so.1 || need+=(libgl1)
  ldconfig -p 2>/dev/null | grep -q libxkbcommon.so.0 || need+=(libxkbcommon0)
  ldconfig -p 2>/dev/null | grep -q libfontconfig.so.1 || need+=(libfontconfig1)
  ldconfig -p 2>/dev/null | grep -q libdbus-1.so.3 || need+=(libdbus-1-3)
  # Qt's xcb platform (a real X display) aborts at start without these (PySide6 6.5+ needs
  # xcb-cursor); the offscreen platform does not use them.
  local lib pkg
  for pair in libxcb-icccm.so.4:libxcb-icccm4 libxcb-keysyms.so.1:libxcb-keysyms1 \
              libxcb-image.so.0:libxcb-image0 libxcb-render-util.so.0:libxcb-render-util0 \
              libxcb-xinerama.so.0:libxcb-xinerama0 libxcb-cursor.so.0:libxcb-cursor0 \
              libxcb-randr.so.0:libxcb-randr0 libxcb-shape.so.0:libxcb-shape0 \
              libxcb-xfixes.so.0:libxcb-xfixes0 libxcb-xkb.so.1:libxcb-xkb1 \
              libxkbcommon-x11.so.0:libxkbcommon-x11-0 libX11-xcb.so.1:libx11-xcb1; do
    lib=${pair%%:*}; pkg=${pair##*:}
    ldconfig -p 2>/dev/null | grep -q "$lib" || need+=("$pkg")
  done
  if [ "${1:-}" = test ]; then
    # Debian's older exiftool as well: the tests run the old-exiftool paths with it (12.x has
    # no ImageDataHash and cannot write WebP through a new file)
    [ -x /usr/bin/exiftool ] || need+=(libimage-exiftool-perl)
    command -v Xvfb >/dev/null || need+=(xvfb)  # the GUI test on a real X server
    command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
    command -v appstreamcli >/dev/null || need+=(appstream)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    say "installing system libraries: ${need[*]}"
    apt_install "${need[@]}" || say "could not install ${need[*]} (no apt/root); the GUI may not start"
  fi
}

wants_torch() {
  # torch (with its CUDA libraries: about 5 GB) only where it pays: an NVIDIA GPU that answers
  # (nvidia-smi), or MOODTAGGER_TORCH=1 (training, exporting a model; =0: never). A CPU predicts
  # and draws heat maps with ONNX Runtime.
  case "${MOODTAGGER_TORCH:-}" in 1) return 0 ;; 0) return 1 ;; esac
  command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1
}

extras_for() {  # extras_for app|test: the pyproject extras that command installs
  if [ "$1" = test ]; then echo dev; return; fi
  if wants_torch; then echo gui,torch; else echo gui; fi
}

ensure_venv() {  # ensure_venv EXTRAS
  # The stamp lists the extras installed for this pyproject.toml, one line each ("HASH EXTRAS"):
  # `app` twice, or after `test` (dev holds gui and torch), installs nothing.
  local extras=$1 stamp="$VENV/.moodtagger-stamp" hash
  hash=$(sha256sum < pyproject.toml | cut -c1-16)
  if [ -f "$stamp" ] && grep -qx -e "$hash $extras" -e "$hash dev" "$stamp"; then return; fi
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
  say "installing Python dependencies (.[$extras]) into $VENV"
  "$VENV/bin/python" -m pip install -q -e ".[$extras]"
  { grep -s "^$hash " "$stamp" || true; echo "$hash $extras"; } > "$stamp.new"
  mv "$stamp.new" "$stamp"
}

link_exiftool() {
  # The installed program looks for exiftool in its own venv first (moodtagger/core/tools.py),
  # so `.venv/bin/moodtagger`, activated or run by path, uses the exiftool 13 installed here
  # rather than an older one on PATH. (Linked again on every run: cheap, and repairs a moved
  # checkout; exiftool follows the link to find its lib/.)
  if [ -x "$VENDORED_EXIFTOOL" ]; then
    ln -sfn "$VENDORED_EXIFTOOL" "$VENV/bin/exiftool"
  elif [ -L "$VENV/bin/exiftool" ] && [ ! -e "$VENV/bin/exiftool" ]; then
    rm -f "$VENV/bin/exiftool"  # a link to a copy that is gone: PATH's exiftool instead
  fi
}

cmd=${1:-app}; shift || true
case "$cmd" in app|test) ;; *) echo "usage: packaging/bootstrap.sh app|test [ARGS...]" >&2; exit 2 ;; esac
ensure_exiftool
ensure_system_libs "$cmd"
ensure_venv "$(extras_for "$cmd")"
link_exiftool
export PATH="$VENV/bin:$PATH"
case "$cmd" in
  app)
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "${QT_QPA_PLATFORM:-}" = offscreen ]; then
      exec moodtagger gui "$@"
    fi
    say "no display found: showing the command line instead (moodtagger --help)."
    moodtagger --help
    demo=${1:-$ROOT/../shared/data/imagenet-sample}
    if [ -d "$demo" ]; then
      say "demo: predicting moods for 12 photos of $demo"
      tmp=$(mktemp -d)
      files=("$demo"/*)  # no `ls | head` pipe: under pipefail its SIGPIPE would abort the script
      for f in "${files[@]:0:12}"; do ln -s "$f" "$tmp/$(basename "$f")"; done
      moodtagger predict "$tmp"
      rm -rf "$tmp"
    fi
    say "scan a folder:   $VENV/bin/moodtagger scan ~/Pictures"
    say "list by mood:    $VENV/bin/moodtagger list --mood awe --min 0.4"
    say "write moods:     $VENV/bin/moodtagger accept --min 0.5 && $VENV/bin/moodtagger write"
    say "the desktop app needs a display (or QT_QPA_PLATFORM=offscreen for --screenshot)"
    ;;
  test)
    say "checking import contracts (the core never imports Qt)"
    lint-imports
    say "lint and format (ruff) and the core's types (mypy)"
    ruff check .
    ruff format --check .
    mypy moodtagger/core
    export QT_QPA_PLATFORM=offscreen
    exec python -m pytest "$@"
    ;;
esac
