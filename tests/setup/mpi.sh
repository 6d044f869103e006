#!/usr/bin/env bash
# Test prerequisites of the data-parallel training tests: Open MPI (Debian's openmpi-bin, and libopenmpi-dev for mpi.h
# and the libmpi.so link the trainer loads). Idempotent and quick when already installed. Must run as root.
# The Slurm cluster the 2-process srun test uses is started by tests/setup/data-filters.sh.
set -euo pipefail
source "$(dirname "$0")/lib/debian-packages.sh"
install_missing openmpi-bin libopenmpi-dev
command -v mpirun >/dev/null && echo "mpi: $(mpirun --version 2>/dev/null | head -1)"
