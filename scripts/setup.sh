#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for Sigilforge development: the system packages the
# tests use, then the npm dependencies and the build (npm ci runs the "prepare" build).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# age: interop tests against the real CLI; tcsh/fish: eval of sigil-agent -c/--fish output;
# util-linux (script, setpriv) drives age's prompt and runs a client as another uid;
# chromium: the browser leg of OAuth tests (driven by playwright-core, never downloaded);
# dbus, gnome-keyring, libsecret-tools: a real Secret Service for the keyring store tests;
# groff-base: the man pages must render without a warning; git: the credential helper tests;
# zsh: the zsh completion script is syntax-checked by zsh itself.
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  age tcsh fish tmux util-linux bsdutils procps ca-certificates chromium \
  dbus gnome-keyring libsecret-tools groff-base git zsh >/dev/null

node --version
npm --version
npm ci --no-audit --no-fund
