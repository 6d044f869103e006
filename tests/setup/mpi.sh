#!/usr/bin/env bash
# Test prerequisites of the data-parallel training tests: Open MPI (Debian's openmpi-bin, and libopenmpi-dev for mpi.h
# and the libmpi.so link the trainer loads). Idempotent and quick when already installed. Must run as root.
# The Slurm cluster the 2-process srun test uses is started by tests/setup/data-filters.sh.
set -euo pipefail
packages=(openmpi-bin libopenmpi-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"; then
    apt-get -o DPkg::Lock::Timeout=600 update
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
  fi
fi
command -v mpirun >/dev/null && echo "mpi: $(mpirun --version 2>/dev/null | head -1)"
