#!/bin/sh
# Test set-up: the report's browser test needs a headless Chromium (Debian's chromium package).
# Installs it with apt-get where it is missing and possible. Where it cannot, it says how and
# exits 1, so that the README's test command stops here instead of running a suite whose browser
# test would skip (python -m pytest alone still runs, and says why it skips; with CI=true that
# skip fails the run). Set REID_CHROMIUM=/path/to/chrome to use another binary.
for b in "$REID_CHROMIUM" chromium chromium-browser google-chrome; do
    if [ -n "$b" ] && command -v "$b" >/dev/null 2>&1; then
        exit 0
    fi
done
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO=none; fi
    if [ "$SUDO" != none ]; then
        echo "installing chromium for the report's browser test (apt-get)"
        if $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 \
            || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq chromium >/dev/null 2>&1; }; then
            exit 0
        fi
    fi
fi
echo "error: no Chromium found, and it could not be installed here (the report's browser test needs it)." >&2
echo "       Install chromium (Debian/Ubuntu, as root: apt-get install chromium) or set REID_CHROMIUM=/path/to/chrome." >&2
exit 1
