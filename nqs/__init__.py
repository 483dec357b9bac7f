"""nqs: neural quantum states for quantum spin systems, by variational Monte Carlo on JAX.

    import nqs
    H = nqs.Heisenberg(nqs.Square(4, 4, pbc=True))      # J = 1, S.S units, Marshall sign rule
    result = nqs.ground_state(H, nqs.RBM(alpha=1), n_samples=1024, steps=300, seed=0, out="run.h5")
    result.energy_per_site, result.error, result.history

Energies are per site in units of J with S = sigma/2; NetKet's Heisenberg reports 4x these.
"""

import os as _os

# OpenBLAS's threads (under the LAPACK calls jax makes: SR's Cholesky and triangular solves) busy-wait
# 2^28 cycles (~0.1 s) after each call by default, and XLA's CPU thread pool spins after each of its
# own operations: the two fought for the cores and tripled the cost of a solve, so nqs used to run
# LAPACK on one thread. With OPENBLAS_THREAD_TIMEOUT=16 OpenBLAS's threads sleep after 2^16 cycles
# (~20 us) instead, and the factorisation of a large SR system uses the cores XLA leaves idle during
# it: the 6x6 steps, whose 1008 x 1008 minSR kernel is factorised, went 58-60 -> 46-57 ms (RBM, three
# alternated pairs) and 65 -> 51-52 ms (FFNN, two) on 2 cores; the 4x4, DeepFFNN and 10x10 steps
# did not move (2026-11-30). The thread count stays OpenBLAS's own (the cores available;
# OPENBLAS_NUM_THREADS or OMP_NUM_THREADS if set). Only a default: your setting wins, and it must be
# in the environment before scipy's OpenBLAS is loaded (by jax, on ``import nqs``).
_os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")

from . import _malloc  # noqa: E402

# XLA's per-call buffers from the heap rather than fresh pages each call (see nqs/_malloc.py)
MALLOC_TUNED = _malloc.tune()

from . import _xla  # noqa: E402

# the Metropolis sweeps compiled as whole loops rather than kernel launches per move: opt-in here
# (NQS_XLA_TUNING=1), on in the nqs command; the option is process-wide (nqs/_xla.py)
XLA_TUNED = _xla.tune()

import jax as _jax  # noqa: E402

# float64 / complex128 by default: the tests compare with exact answers to 1e-10
_jax.config.update("jax_enable_x64", True)

from .exact import MAX_ED_SITES, ground_state_energy  # noqa: E402
from .hamiltonian import NETKET_UNIT, Heisenberg  # noqa: E402
from .io import NQSFileError, load  # noqa: E402
from .lanczos import LanczosStep, lanczos_step  # noqa: E402
from .lattice import Square, parse_lattice  # noqa: E402
from .models import DBM, FFNN, RBM, DeepFFNN, FFNNSymm, RBMSymm, as_flax  # noqa: E402
from .references import reference_energy  # noqa: E402
from .sampler import Metropolis, SamplerState  # noqa: E402
from .sr import SR  # noqa: E402
from .stats import statistics  # noqa: E402
from .bench import run_bench  # noqa: E402
from .mps import dmrg_ground_state  # noqa: E402
from .vmc import VMC, DivergenceError, Measurement, Result, VMCState, ground_state, measure, resume  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "DBM", "DeepFFNN", "FFNN", "FFNNSymm", "dmrg_ground_state", "run_bench", "Heisenberg", "LanczosStep", "lanczos_step", "MAX_ED_SITES", "as_flax", "Metropolis", "NETKET_UNIT", "NQSFileError", "RBM", "RBMSymm", "Result",
    "SR", "SamplerState", "DivergenceError", "Measurement", "measure", "resume", "Square", "VMC", "VMCState", "ground_state", "ground_state_energy", "load",
    "parse_lattice", "reference_energy", "statistics",
]
