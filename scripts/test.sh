#!/usr/bin/env bash
# The README's test command: the whole suite, with the race detector, on
# SQLite. It first makes sure the two parts a fresh machine lacks are
# there: Debian's Chromium for the browser tests in e2e/, and axe-core,
# the accessibility rules those tests run in every page, installed with
# npm into .cache/axe-core (ignored by git). Those tests never skip, so a
# part that is missing and cannot be installed stops this script with a
# message that says so, before any test runs.
#
#   scripts/test.sh                  # go test -race -count=1 -timeout 30m ./...
#   scripts/test.sh -run TestHead ./handlers   # other arguments for go test
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

have_chromium() { [ -x /usr/bin/chromium ] || command -v chromium >/dev/null; }

if ! have_chromium; then
  echo "== Chromium is missing: installing Debian's chromium package for the browser tests" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
      echo "scripts/test.sh: Chromium is not installed and this user cannot install it (not root, no sudo)." >&2
      echo "Install it as root (apt-get install chromium), then run this again." >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null; then
    echo "scripts/test.sh: Chromium is not installed and there is no apt-get here." >&2
    echo "Install Chromium with your system's package manager (it must be at /usr/bin/chromium or on PATH)." >&2
    exit 1
  fi
  $SUDO apt-get update -qq >&2 || { echo "scripts/test.sh: apt-get update failed; cannot install Chromium." >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null ||
    { echo "scripts/test.sh: apt-get install chromium failed; the browser tests cannot run." >&2; exit 1; }
  have_chromium || { echo "scripts/test.sh: chromium was installed but is not at /usr/bin/chromium or on PATH." >&2; exit 1; }
fi

# axe-core, pinned: e2e/axe_test.go refuses any other version. Set
# AXE_CORE_JS to an axe.min.js of that version to use one from elsewhere.
AXE_VERSION=4.14.1
AXE_DIR=.cache/axe-core
axe_installed() {
  [ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] &&
    grep -q "\"version\": \"$AXE_VERSION\"" "$AXE_DIR/node_modules/axe-core/package.json" 2>/dev/null
}
if [ -z "${AXE_CORE_JS:-}" ] && ! axe_installed; then
  echo "== axe-core $AXE_VERSION is missing: installing it with npm into $AXE_DIR for the browser tests" >&2
  if ! command -v npm >/dev/null; then
    echo "scripts/test.sh: npm is not installed, so axe-core cannot be fetched for the accessibility checks." >&2
    echo "Install Node.js and npm (apt-get install npm), or set AXE_CORE_JS to an axe.min.js of axe-core $AXE_VERSION, then run this again." >&2
    exit 1
  fi
  rm -rf "$AXE_DIR"
  npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      --prefix "$AXE_DIR" "axe-core@$AXE_VERSION" >&2 ||
    { echo "scripts/test.sh: npm install axe-core@$AXE_VERSION failed; the browser tests cannot run." >&2; exit 1; }
  axe_installed || { echo "scripts/test.sh: npm ran but $AXE_DIR/node_modules/axe-core/axe.min.js ($AXE_VERSION) is not there." >&2; exit 1; }
fi

# The browser tests (e2e/) run axe-core in a few hundred pages: on a busy
# two-core machine that package alone can take longer than go test's
# default ten minutes per package. A -timeout among the arguments wins.
if [ $# -eq 0 ]; then set -- ./...; fi
exec go test -race -count=1 -timeout 30m "$@"
