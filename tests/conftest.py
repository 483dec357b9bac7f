"""Shared fixtures: small lattices, random configurations, and one 4x4 ground-state run reused by
several tests (compiled functions and results are session-scoped to keep the suite fast)."""

import os
import shutil
import tempfile

import jax
import numpy as np
import pytest

import nqs

EXACT_4x4 = -0.70178020  # Sandvik 1997, per site, S.S units

_CACHE_OPTIONS = {"jax_persistent_cache_min_compile_time_secs": 0.0, "jax_persistent_cache_min_entry_size_bytes": 0}


def pytest_configure(config):
    """One compilation cache for the whole run: the pytest-xdist workers (``-n auto`` in pyproject.toml)
    and the command-line subprocesses the tests start all compile the same small VMC steps, and each
    compiles them once instead of once per process. The first process (the controller) makes the
    directory and hands it down through the environment, which jax reads when a worker or subprocess
    imports it; a cache the user set is left alone."""
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:  # a worker of this run, or the user's own cache
        return
    config._nqs_cache_dir = tempfile.mkdtemp(prefix="nqs-tests-jax-cache-")  # removed by this process
    for name, value in {"jax_compilation_cache_dir": config._nqs_cache_dir, **_CACHE_OPTIONS}.items():
        os.environ[name.upper()] = str(value)  # for the processes started from here
        jax.config.update(name, value)  # for this one (jax read its environment when imported)


def pytest_unconfigure(config):
    made = getattr(config, "_nqs_cache_dir", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)


def random_sz0(n_sites, n, seed=0):
    """n random configurations with Sz = 0 (as many up as down spins), shape (n, n_sites)."""
    rng = np.random.default_rng(seed)
    base = np.array([1.0] * (n_sites // 2) + [-1.0] * (n_sites - n_sites // 2))
    return np.stack([rng.permutation(base) for _ in range(n)])


def sz0_basis(n_sites):
    """All configurations with Sz = 0 (N even), shape (C(N, N/2), N)."""
    from itertools import combinations

    states = []
    for ups in combinations(range(n_sites), n_sites // 2):
        s = -np.ones(n_sites)
        s[list(ups)] = 1.0
        states.append(s)
    return np.array(states)


def dense_heisenberg(lattice, basis, marshall=True):
    """H = sum_<ij> S_i.S_j written out as a matrix on the given basis (Marshall sign on the exchange)."""
    index = {tuple(s): k for k, s in enumerate(basis)}
    Hm = np.zeros((len(basis), len(basis)))
    for k, s in enumerate(basis):
        for i, j in lattice.bonds:
            Hm[k, k] += 0.25 * s[i] * s[j]
            if s[i] != s[j]:
                t = s.copy()
                t[[i, j]] = t[[j, i]]
                Hm[index[tuple(t)], k] += -0.5 if marshall else 0.5
    return Hm


@pytest.fixture(scope="session")
def ground_state_4x4(tmp_path_factory):
    """One 4x4 ground-state search from a fixed seed, written to HDF5 (used by VMC and IO tests)."""
    out = tmp_path_factory.mktemp("run") / "run.h5"
    H = nqs.Heisenberg(nqs.Square(4, 4, pbc=True))
    result = nqs.ground_state(
        H, nqs.RBMSymm(H.lattice, alpha=2), n_samples=1024, steps=300, seed=0, learning_rate=0.05,
        sr=nqs.SR(diag_shift=1e-3),
        out=str(out), progress=False, exact=EXACT_4x4,
    )
    return result, out
