#!/usr/bin/env bash
# Installs Debian's `chromium` for the dashboard's browser tests (tests/browser) when it is missing.
# Playwright's own browser download cannot work here; the tests drive this Chromium over the DevTools pipe.
# Needs root (or sudo) and apt-get; not part of scripts/setup.sh, so the quick start stays fast and root-free.
# Quiet: apt's output goes to a log file, named on failure.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ] \
   || { [ -n "${SPACE_FACTORY_CHROMIUM:-}" ] && [ -x "${SPACE_FACTORY_CHROMIUM}" ]; }; then
  exit 0
fi

log="${TMPDIR:-/tmp}/space-factory-chromium-install.log"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo -n)
else
  echo "scripts/browser.sh: chromium is missing and installing it needs root (no sudo here)." >&2
  echo "  Install Debian's chromium package (apt-get install chromium), or set SPACE_FACTORY_CHROMIUM." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "scripts/browser.sh: chromium is missing and there is no apt-get to install it;" >&2
  echo "  install Chromium with this system's package manager, or set SPACE_FACTORY_CHROMIUM." >&2
  exit 1
fi

echo "Installing chromium for the browser tests (log: $log)…"
install() {
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q chromium >>"$log" 2>&1
}
: >"$log"
if ! install; then
  # A fresh machine may have no package lists yet (or stale ones): refresh them once and retry.
  if ! DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get update -q >>"$log" 2>&1 || ! install; then
    echo "scripts/browser.sh: could not install chromium with apt-get; the last lines of $log:" >&2
    tail -n 15 "$log" >&2
    exit 1
  fi
fi
echo "chromium installed: $(chromium --version 2>/dev/null || echo /usr/lib/chromium/chromium)"
