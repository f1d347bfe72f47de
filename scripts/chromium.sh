#!/usr/bin/env bash
# Headless Chromium for the console's browser test (e2e/console_browser_test.go), sourced by
# scripts/test.sh: Debian's `chromium` package (with an emoji font, so the screenshots of
# messages with emoji are legible), installed with apt-get when it is missing and
# we are root (as `make test` installs PostgreSQL). Sets E2E_CHROMIUM to the browser's path;
# leaves it unset, saying why, when no browser can be had (the test then skips, saying so).

ensure_chromium() {
  if [[ -n "${E2E_CHROMIUM:-}" ]]; then
    return
  fi
  local bin
  for bin in chromium chromium-browser google-chrome; do
    if command -v "$bin" >/dev/null 2>&1; then
      export E2E_CHROMIUM
      E2E_CHROMIUM=$(command -v "$bin")
      return
    fi
  done
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    printf '\033[1;34m==>\033[0m %s\n' "no Chromium and no apt-get as root: the console's browser test will skip (install chromium, or set E2E_CHROMIUM)" >&2
    return
  fi
  printf '\033[1;34m==>\033[0m %s\n' "installing Debian's chromium for the console's browser test (apt-get)" >&2
  local start=$SECONDS
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-color-emoji; } >/dev/null; then
    printf '\033[1;34m==>\033[0m %s\n' "apt-get could not install chromium: the console's browser test will skip" >&2
    return
  fi
  printf '\033[1;34m==>\033[0m %s\n' "chromium installed in $((SECONDS - start)) s" >&2
  export E2E_CHROMIUM
  E2E_CHROMIUM=$(command -v chromium)
}
