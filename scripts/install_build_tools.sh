#!/usr/bin/env bash
# Installs the build tools that the BuildKit tests and the demo use, and prints where they are:
#   - dockerd (Debian's docker.io) for a real BuildKit;
#   - the official `depot` CLI, from npm, into <repo>/.cache/depot-cli;
#   - docker-buildx (Debian trixie's .deb, which depends only on libc), unpacked into
#     <repo>/.cache/docker-cli-plugins, for `DOCKER_CONFIG`-style plugin lookup.
# Idempotent: when everything is there it only prints the paths.
# Output (stdout): KEY=VALUE lines, so `eval "$(scripts/install_build_tools.sh)"` works:
#   DEPOT_CLI=..., DOCKER_CLI_PLUGINS_DIR=..., DOCKERD=...
# Needs root for apt-get; set DEPOT_TOOLS_CACHE to put the cache elsewhere.
set -euo pipefail

DEPOT_CLI_VERSION="0.0.1-cli.2.102.12"
DEPOT_CLI_PACKAGE="@depot/cli-linux-x64@$DEPOT_CLI_VERSION"
BUILDX_SUITE="trixie"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${DEPOT_TOOLS_CACHE:-$repo_root/.cache}"
depot_cli="$cache/depot-cli/node_modules/@depot/cli-linux-x64/bin/depot"
plugins_dir="$cache/docker-cli-plugins"
buildx="$plugins_dir/docker-buildx"

log() { echo "install_build_tools: $*" >&2; }

# Runs apt-get silently; its output is shown only when it fails.
apt_quiet() {
    local out
    out="$(mktemp)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get -qq -o Dpkg::Use-Pty=0 "$@" >"$out" 2>&1; then
        cat "$out" >&2
        rm -f "$out"
        return 1
    fi
    rm -f "$out"
}

install_dockerd() {
    command -v dockerd >/dev/null 2>&1 && return 0
    log "installing docker.io (dockerd) with apt-get"
    apt_quiet update
    apt_quiet install -y --no-install-recommends docker.io
}

install_depot_cli() {
    local manifest="$cache/depot-cli/node_modules/@depot/cli-linux-x64/package.json"
    [ -x "$depot_cli" ] && grep -q "\"version\": *\"$DEPOT_CLI_VERSION\"" "$manifest" 2>/dev/null && return 0
    command -v npm >/dev/null 2>&1 || { log "npm is needed to install the depot CLI"; exit 1; }
    log "installing the depot CLI ($DEPOT_CLI_PACKAGE) from npm"
    mkdir -p "$cache/depot-cli"
    npm install --prefix "$cache/depot-cli" --no-save --no-audit --no-fund --loglevel=error \
        "$DEPOT_CLI_PACKAGE" >/dev/null
    [ -x "$depot_cli" ] || { log "npm did not produce $depot_cli"; exit 1; }
}

install_buildx() {
    [ -x "$buildx" ] && return 0
    log "fetching docker-buildx from Debian $BUILDX_SUITE (download only, system unchanged)"
    local work
    work="$(mktemp -d)"
    # shellcheck disable=SC2064
    trap "rm -rf '$work'" RETURN
    mkdir -p "$work/lists/partial" "$work/archives/partial" "$work/unpacked"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $BUILDX_SUITE main" \
        >"$work/sources.list"
    # A private sources list, list directory and cache: the system's apt state is not touched.
    local apt_opts=(
        -o "Dir::Etc::sourcelist=$work/sources.list"
        -o "Dir::Etc::sourceparts=-"
        -o "Dir::State::Lists=$work/lists"
        -o "Dir::Cache=$work/cache"
        -o "Dir::Cache::archives=$work/archives"
        -o "APT::Get::List-Cleanup=0"
        -o "APT::Sandbox::User=root"
    )
    apt_quiet "${apt_opts[@]}" update
    (cd "$work" && apt_quiet "${apt_opts[@]}" download docker-buildx)
    dpkg -x "$work"/docker-buildx_*.deb "$work/unpacked"
    mkdir -p "$plugins_dir"
    install -m 0755 "$work/unpacked/usr/libexec/docker/cli-plugins/docker-buildx" "$buildx"
}

install_dockerd
install_depot_cli
install_buildx

echo "DOCKERD=$(command -v dockerd)"
echo "DEPOT_CLI=$depot_cli"
echo "DOCKER_CLI_PLUGINS_DIR=$plugins_dir"
