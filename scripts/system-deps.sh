#!/usr/bin/env bash
# Install the system tools tlskit needs, from Debian's packages, when they are absent.
#   scripts/system-deps.sh tshark            (make demo)
#   scripts/system-deps.sh tshark test       (make test: also chromium + chromedriver, a JDK)
# As root it installs non-interactively and says so; otherwise it prints the exact command.
set -euo pipefail

want_test=0
for arg in "$@"; do [ "$arg" = test ] && want_test=1; done

missing=()       # Debian packages to install
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
if [ "$want_test" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  command -v java >/dev/null 2>&1 && command -v keytool >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "system tools: present ($(tshark --version 2>/dev/null | head -n1))"
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "tlskit needs ${missing[*]} and this is not a Debian/Ubuntu system: install Wireshark's tshark with your package manager (e.g. 'conda install -c conda-forge wireshark' or 'brew install wireshark'), then run make again." >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "tlskit needs ${missing[*]}, and installing it needs root: run 'sudo apt-get update && sudo $cmd', then run make again." >&2
  exit 1
fi

echo "Installing Debian packages: ${missing[*]} (apt-get, non-interactive)..."
export DEBIAN_FRONTEND=noninteractive
# Do not ask whether non-root users may capture: tlskit only reads files.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null
echo "Installed: ${missing[*]}"
