#!/usr/bin/env bash
# Installs what faxserver needs to build and test on Debian 12, and nothing that is already
# there: safe to run any number of times.
set -euo pipefail

packages=(
    build-essential pkg-config
    libspandsp-dev libtiff-dev libclang-dev   # SpanDSP, its headers' libtiff, bindgen's libclang
    libtiff-tools                             # tiffinfo/tiffcp: independent checks in tests
    ghostscript poppler-utils                 # PDF rendering, and rendering PDFs back in tests
    tshark                                    # independent RTP/T.38/T.30 wire decoder in tests
    sip-tester                                # sipp: scripted SIP peer in sip/tests/sipp_interop.rs
    postgresql                                # the production store, for store's PostgreSQL tests
    python3-aiosmtpd                          # loopback SMTP server for notify's e-mail tests
    chromium                                  # headless browser: Swagger UI renders /openapi.json (api tests)
    tzdata                                    # IANA zones of the fax header line's date (store/src/header_tz.rs)
)

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]})); then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    # Through env, so that sudo (which resets the environment) passes it on: tshark asks a
    # debconf question (wireshark-common/install-setuid) whose default, false, is what we want.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "Rust is missing: installing it with rustup (https://rustup.rs)"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal \
            --component rustfmt,clippy
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
fi

# greenswitch (PyPI), a real FreeSWITCH Event Socket client for fs-compat's tests, in a venv of
# its own so that the system's Python stays untouched; the tests find it by FAXSERVER_PYTHON.
esl_venv="${FAXSERVER_PYTHON_VENV:-$HOME/.cache/faxserver/venv}"
if ! "$esl_venv/bin/python" -c "import greenswitch" >/dev/null 2>&1; then
    if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
        # Debian ships venv's pip bootstrap separately.
        sudo=""
        if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
        $sudo apt-get update -qq
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    echo "installing greenswitch into $esl_venv"
    python3 -m venv "$esl_venv"
    "$esl_venv/bin/pip" install -q "greenswitch==0.0.19"
fi
export FAXSERVER_PYTHON="$esl_venv/bin/python"
