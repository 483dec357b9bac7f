"""nqs: neural quantum states for quantum spin systems, by variational Monte Carlo on JAX.

    import nqs
    H = nqs.Heisenberg(nqs.Square(4, 4, pbc=True))      # J = 1, S.S units, Marshall sign rule
    result = nqs.ground_state(H, nqs.RBM(alpha=1), n_samples=1024, steps=300, seed=0, out="run.h5")
    result.energy_per_site, result.error, result.history

Energies are per site in units of J with S = sigma/2; NetKet's Heisenberg reports 4x these.
"""

import os as _os

# XLA's CPU thread pool spins after each GEMM; OpenBLAS threads under the LAPACK calls that jax makes
# (Cholesky in SR) would then fight it for the cores and triple the cost of a solve. One BLAS thread
# is the fast choice for the small dense systems of VMC. (Two threads that sleep soon after a call,
# OPENBLAS_THREAD_TIMEOUT=16, factorise the 6x6 RBM's 1008 x 1008 kernel in 13 ms instead of 19 and
# took its step from 40-48 to 36-38 ms, but the 4x4 step, whose 288 x 288 system they wake up for,
# from 12-14 to 14-17 ms: measured in alternating processes on 2 cores, 2026-11-29.) Only a default:
# the user's setting wins, and it must be set before numpy/scipy are first imported.
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

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
