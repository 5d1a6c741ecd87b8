# shellcheck shell=bash
# Helpers sourced by tests/setup, ./run and contrib/package-deb (not run on its own): install what
# is missing, quickly when nothing is. Messages are prefixed with $ensure_tag (set it first).

# Debian/Ubuntu packages needed to build the desktop app (Tauri v2 on WebKitGTK 4.1) and the CLI.
# shellcheck disable=SC2034  # used by the scripts that source this file
keyport_build_packages=(
    build-essential file pkg-config ca-certificates curl
    libwebkit2gtk-4.1-dev libxdo-dev libssl-dev libayatana-appindicator3-dev librsvg2-dev
)

ensure_tag="${ensure_tag:-keyport}"
ensure_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# ensure_apt PACKAGE...: installs the packages that dpkg does not list as installed, with sudo
# when not root; runs `apt-get update` only when apt does not know a package (a fresh machine
# has no package lists) or the install fails.
ensure_apt() {
    local missing=() pkg status
    for pkg in "$@"; do
        status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
        [[ "$status" == installed ]] || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0

    local install_cmd=(apt-get install -y --no-install-recommends "${missing[@]}")
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            echo "$ensure_tag: missing packages: ${missing[*]}" >&2
            echo "$ensure_tag: run as root:  apt-get update && ${install_cmd[*]}" >&2
            return 1
        fi
    fi
    echo "$ensure_tag: installing ${missing[*]}"
    if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    fi
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${install_cmd[@]}" -qq; then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "${install_cmd[@]}" -qq
    fi
}

# ensure_node: fails with a hint when node or npm is missing, or node is older than 20.19 (what
# the UI's build tools, Vite and vitest, need).
ensure_node() {
    local tool need="20.19.0" have
    for tool in node npm; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$ensure_tag: \`$tool\` is missing. Install Node.js $need or newer with npm" >&2
            echo "$ensure_tag: (Debian's own nodejs is older: see https://nodejs.org/en/download)." >&2
            return 1
        fi
    done
    have="$(node -p 'process.versions.node')"
    if [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]]; then
        echo "$ensure_tag: Node.js $have is too old; the UI build needs Node.js $need or newer." >&2
        return 1
    fi
}

# ensure_npm_ci DIR: `npm ci` in DIR when its node_modules is missing or older than
# package-lock.json / package.json (a stamp file records the last successful run; `npm ci`
# itself deletes node_modules first). Skipped, with a note, when DIR has no package-lock.json.
ensure_npm_ci() {
    local dir="$1"
    local stamp="$dir/node_modules/.keyport-setup-stamp"
    if [[ ! -f "$dir/package-lock.json" ]]; then
        echo "$ensure_tag: skipping npm ci: $dir/package-lock.json does not exist (yet)"
    elif [[ ! -f "$stamp" || "$dir/package-lock.json" -nt "$stamp" || "$dir/package.json" -nt "$stamp" ]]; then
        echo "$ensure_tag: npm ci in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        mkdir -p "$dir/node_modules"
        touch "$stamp"
    fi
}

# ensure_cargo: fails with a hint when cargo is missing or older than the workspace's
# rust-version in Cargo.toml (Debian's own cargo is too old: use rustup).
ensure_cargo() {
    local need have
    need="$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' "$ensure_root/Cargo.toml" | head -n1)"
    if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "$ensure_tag: \`cargo\` is missing. Install Rust $need or newer with rustup:" >&2
        echo "$ensure_tag:   curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh" >&2
        return 1
    fi
    have="$(cargo --version | awk '{print $2}')"
    if [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]]; then
        echo "$ensure_tag: cargo $have is too old; Keyport needs Rust $need or newer (\`rustup update\`)." >&2
        return 1
    fi
}
