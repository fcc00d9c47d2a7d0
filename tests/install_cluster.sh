#!/bin/sh
# Test set-up for the cluster tests: the SLURM test (tests/test_slurm.py) brings up a single-node
# cluster from Debian's slurm-wlm and munge packages; the Kubernetes profile's storage plugin
# (snakemake-storage-plugin-fs, tests/test_cluster_profiles.py) copies files with rsync. Installs
# them with apt-get where they are missing and possible. Where it cannot, it says how and exits 1,
# so that the README's test command stops here instead of running a suite whose cluster tests
# would skip (with CI=true such a skip fails the run). Nothing is started here, and no service
# is enabled: the SLURM test starts the daemons as plain processes and stops them by PID.
if command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 \
    && command -v rsync >/dev/null 2>&1; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO=none; fi
    if [ "$SUDO" != none ]; then
        echo "installing slurm-wlm, munge and rsync for the cluster tests (apt-get)"
        # policy-rc.d: Debian's post-install scripts must not start the services themselves
        if [ -z "$SUDO" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && REMOVE_POLICY=1
        fi
        export DEBIAN_FRONTEND=noninteractive
        if $SUDO apt-get install -y -qq slurm-wlm munge rsync >/dev/null 2>&1 \
            || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq slurm-wlm munge rsync >/dev/null 2>&1; }; then
            [ -n "$REMOVE_POLICY" ] && rm -f /usr/sbin/policy-rc.d
            exit 0
        fi
        [ -n "$REMOVE_POLICY" ] && rm -f /usr/sbin/policy-rc.d
    fi
fi
echo "error: slurm-wlm, munge or rsync is missing, and could not be installed here (the cluster tests need them)." >&2
echo "       Install them as root (Debian/Ubuntu: apt-get install slurm-wlm munge rsync)." >&2
exit 1
