#!/bin/sh
# Test set-up: the SLURM test (tests/test_slurm.py) brings up a single-node cluster from Debian's
# slurm-wlm and munge packages. Installs them with apt-get where they are missing and possible;
# elsewhere says how, and the test skips with the same advice. Nothing is started here, and no
# service is enabled: the test starts the daemons as plain processes and stops them by PID.
if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 && command -v munged >/dev/null 2>&1; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO=none; fi
    if [ "$SUDO" != none ]; then
        echo "installing slurm-wlm and munge for the SLURM test (apt-get)"
        # policy-rc.d: Debian's post-install scripts must not start the services themselves
        if [ -z "$SUDO" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && REMOVE_POLICY=1
        fi
        export DEBIAN_FRONTEND=noninteractive
        if $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 \
            || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1; }; then
            [ -n "$REMOVE_POLICY" ] && rm -f /usr/sbin/policy-rc.d
            exit 0
        fi
        [ -n "$REMOVE_POLICY" ] && rm -f /usr/sbin/policy-rc.d
    fi
fi
echo "note: SLURM could not be installed here; the SLURM test will be skipped." >&2
echo "      Install it as root (Debian/Ubuntu: apt-get install slurm-wlm munge)." >&2
exit 0
