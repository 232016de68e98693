#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine for Sigilforge development: the system packages the
# tests use, then the npm dependencies, then the build (npm ci does not build: the build
# runs in "prepack", for npm pack and publish, not on every install).
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
# zsh: the zsh completion script is syntax-checked by zsh itself;
# build-essential: the C compiler for sigil-token in C and the Node shim's native client
# (scripts/build-native.mjs); oidc-agent-cli: oidc-token, a baseline of npm run bench section 1;
# systemd: systemd-analyze verify/security check the printed service unit;
# openssh-server, openssh-client: sigil ssh and forwarded callers, tested against a real sshd on
# 127.0.0.1 (test/support/sshd.ts starts its own; the package's service is not needed).
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  age tcsh fish tmux util-linux bsdutils procps ca-certificates chromium \
  dbus gnome-keyring libsecret-tools groff-base git zsh build-essential systemd \
  openssh-server openssh-client oidc-agent-cli >/dev/null

# The remote side of the ssh tests (test/cli/ssh.test.ts): a second local user. Its password is
# "*" (no password login) rather than useradd's "!" (locked), which sshd without PAM refuses
# even for keys. It runs the checkout's built binaries, so the checkout must be readable and
# its directories searchable by others (the tests check and say so).
if ! id -u sigil-remote >/dev/null 2>&1; then
  $SUDO useradd --create-home --shell /bin/sh sigil-remote
fi
$SUDO usermod -p '*' sigil-remote

# The native client also needs Node's headers (node_api.h). Official tarballs and
# NodeSource's nodejs package ship them beside node; Debian's own nodejs keeps them in
# libnode-dev. Without them the build still passes: sigil-token uses its portable client.
node_include="$(node -p "require('node:path').join(process.execPath, '..', '..', 'include', 'node')")"
if [ ! -f "$node_include/node_api.h" ] && [ ! -f /usr/include/node/node_api.h ]; then
  if dpkg-query -W -f='${Maintainer}' nodejs 2>/dev/null | grep -qi debian; then
    $SUDO apt-get install -y -qq --no-install-recommends libnode-dev >/dev/null
  else
    echo "setup: no node_api.h under $node_include: sigil-token will use its portable client" >&2
  fi
fi

node --version
npm --version
npm ci --no-audit --no-fund
npm run build
