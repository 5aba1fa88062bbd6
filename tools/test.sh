#!/bin/sh
# The full test run, exactly as CI runs it (README's second command; .ci/run calls only this).
#
# 1. The browser tests (the HTML report and the docs site in headless Chromium) need Debian's
#    chromium and chromium-driver, and the virtual environment needs python3-venv: whichever is
#    missing is installed with apt-get (as root, or through sudo), and this script says so first.
# 2. A virtual environment .venv, and padlab installed in editable mode with its test extra.
# 3. pytest: every test, doctest, lint check and the docs build. Extra arguments go to pytest,
#    e.g. `sh tools/test.sh -m "not slow"` for the quick subset.
set -eu
cd "$(dirname "$0")/.."

missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v chromedriver >/dev/null 2>&1 || missing="$missing chromium-driver"
python3 -c "import ensurepip" >/dev/null 2>&1 || missing="$missing python3-venv"
if [ -n "$missing" ]; then
    echo "tools/test.sh: installing Debian packages the tests need:$missing (apt-get)"
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "tools/test.sh: not root and no sudo; install them first:" \
            "apt-get install$missing" >&2
        exit 1
    fi
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

python3 -m venv .venv
# The test extra pins torch==2.13.0. Where that CPU build is provided locally (these CI machines)
# pip takes it; elsewhere, to avoid the CUDA build (~3 GB), install the CPU build first:
#   .venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
.venv/bin/python -m pip install -q -e ".[test]"
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ -d artifacts ]; then
    echo "screenshots from the browser tests: $(pwd)/artifacts/"
fi
exit $status
