# Source this file (./run-tests does): makes sure the programs the end-to-end tests drive are
# here, installing them from Debian's packages on first use when this is root with apt:
# Chromium (reports must open with every image loaded) and Slurm + munge (the single-node
# cluster the Slurm executor is tested against). Where they cannot be installed, the tests that
# need them fail and say what is missing; nothing is skipped silently.
silab_need=()
command -v chromium >/dev/null 2>&1 || silab_need+=(chromium)
for b in sbatch slurmctld slurmd munged; do
    command -v "$b" >/dev/null 2>&1 || { silab_need+=(slurmctld slurmd slurm-client munge); break; }
done
if [ ${#silab_need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "silab: installing ${silab_need[*]} for the tests (first use only)" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${silab_need[@]}" >/dev/null) || echo "silab: could not install ${silab_need[*]}; the tests that need them will fail" >&2
    else
        echo "silab: ${silab_need[*]} missing and not installable here (needs root and apt); the tests that need them will fail" >&2
    fi
fi
unset silab_need
