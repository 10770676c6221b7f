#!/usr/bin/env bash
# Runs the whole agentgate test suite on a fresh machine: formatting, lints, and every
# unit, property, conformance and integration test. Installs what the tests need when
# it is missing. Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo is required (https://rustup.rs); it is not installed" >&2
    exit 1
fi

# Components the checks need; rustup installs them from its own toolchain store.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
    log "installing rustfmt and clippy"
    rustup component add rustfmt clippy
fi

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "cargo test"
cargo test --workspace --locked --no-fail-fast

# The AIConexus client's usage patterns, with the client library it uses, against the
# real binary (tests/conformance/ioap_client.py). Its Python packages go into a virtual
# environment under target/, so nothing outside the checkout changes.
log "ioap client conformance (Python)"
if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 is required for the ioap client conformance test; it is not installed" >&2
    exit 1
fi
venv=target/conformance-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r tests/conformance/requirements.txt
cargo build -p agentgate --locked
"$venv/bin/python" tests/conformance/ioap_client.py target/debug/agentgate
