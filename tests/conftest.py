"""Shared fixtures: small lattices, random configurations, and one 4x4 ground-state run reused by
several tests (compiled functions and results are session-scoped to keep the suite fast)."""

import os
import shutil
import tempfile

# One BLAS thread per pytest-xdist worker: the workers (``-n auto``) already take a core each, and
# OpenBLAS's own threads on top of them would oversubscribe the cores. Set before jax loads scipy's
# OpenBLAS; ``nqs run`` and the Python API keep OpenBLAS's default (nqs/__init__.py).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nqs  # noqa: E402

EXACT_4x4 = -0.70178020  # Sandvik 1997, per site, S.S units

_CACHE_OPTIONS = {"jax_persistent_cache_min_compile_time_secs": 0.0, "jax_persistent_cache_min_entry_size_bytes": 0}


# Compilation, not arithmetic, is most of the suite's time: its small VMC steps are compiled once and
# run a few dozen times. So it compiles them the cheap way: without LLVM's optimisation (a quarter off
# the CLI, fault and file tests, 120 s -> 88 s, 2026-11-29), and with XLA CPU's older elemental
# emitters for its fused loops instead of the MLIR fusion emitters, which take about half of what is
# left (a 4x2 run's step 7.0 -> 2.9 s to compile, its measurement 4.8 -> 2.1 s, 2026-11-30). Both
# compile the same HLO; a user's own XLA_FLAGS setting of either wins.
_TEST_XLA_FLAGS = {"xla_backend_optimization_level": "0", "xla_cpu_use_fusion_emitters": "false"}


def pytest_configure(config):
    """One compilation cache for the whole run: the pytest-xdist workers (``-n auto`` in pyproject.toml)
    and the command-line subprocesses the tests start all compile the same small VMC steps, and each
    compiles them once instead of once per process. The first process (the controller) makes the
    directory and hands it down through the environment, which jax reads when a worker or subprocess
    imports it; a cache the user set is left alone."""
    flags = os.environ.get("XLA_FLAGS", "")
    for name, value in _TEST_XLA_FLAGS.items():  # read when the backend starts, after this
        if name not in flags:
            flags = f"{flags} --{name}={value}".strip()
    os.environ["XLA_FLAGS"] = flags
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:  # a worker of this run, or the user's own cache
        if "NQS_CACHE_DIR" not in os.environ:  # the user's own cache: none of the command's files in it
            os.environ.setdefault("NQS_CACHE", "0")
        return
    config._nqs_cache_dir = tempfile.mkdtemp(prefix="nqs-tests-jax-cache-")  # removed by this process
    # the command's exact energies (nqs/_cache.py) kept in the run's directory, not the user's cache
    os.environ.setdefault("NQS_CACHE_DIR", os.path.join(config._nqs_cache_dir, "nqs"))
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


def heisenberg_matrix(lattice, basis, marshall=True):
    """H = sum_<ij> S_i.S_j as a sparse matrix on the given basis (Marshall sign on the exchange),
    written out bond by bond: S_i^z S_j^z on the diagonal, and for each anti-aligned pair the
    exchange (S_i^+ S_j^- + h.c.) / 2 to the configuration with the two spins swapped. Each
    configuration is looked up by its bit pattern, so a 4x4 Sz = 0 basis (12870 states) takes a
    fraction of a second; ``test_exact`` checks the matrix's spectrum against NetKet's ED."""
    from scipy import sparse

    basis = np.asarray(basis)
    up = basis > 0
    weights = 1 << np.arange(basis.shape[1], dtype=np.int64)
    codes = up @ weights
    order = np.argsort(codes)
    rows, cols = [np.arange(len(basis))], [np.arange(len(basis))]
    vals = [0.25 * sum(basis[:, i] * basis[:, j] for i, j in lattice.bonds)]
    for i, j in lattice.bonds:
        (k,) = np.nonzero(up[:, i] != up[:, j])
        swapped = codes[k] ^ (weights[i] | weights[j])  # the two anti-aligned spins exchanged
        target = order[np.searchsorted(codes, swapped, sorter=order)]
        assert np.array_equal(codes[target], swapped), "the basis is not closed under exchange"
        rows.append(target)
        cols.append(k)
        vals.append(np.full(len(k), -0.5 if marshall else 0.5))
    rows, cols, vals = (np.concatenate(x) for x in (rows, cols, vals))
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(basis), len(basis)))


def dense_heisenberg(lattice, basis, marshall=True):
    """``heisenberg_matrix`` written out as a dense array."""
    return heisenberg_matrix(lattice, basis, marshall).toarray()


def compiled_gradient(sr, O, e_loc, step, real, previous=None):
    """``nqs.sr.natural_gradient`` compiled as one function, as the VMC step runs it. Called eagerly,
    each of its array operations would be compiled apart (~100 small compilations per call: test_sr.py
    took 96 s that way, 52 s so)."""
    from nqs.sr import natural_gradient

    if not isinstance(O, list):
        return jax.jit(lambda O, e_loc, previous: natural_gradient(sr, O, e_loc, step, real, previous=previous))(
            O, e_loc, previous)
    # each distinct array passed once and the blocks rebuilt inside, so that an array in two blocks
    # is one array there too, as in the blocks a model returns within the VMC step
    arrays, where = [], []
    for b in O:
        where.append([])
        for x in b[1:]:
            i = next((i for i, y in enumerate(arrays) if y is x), None)
            if i is None:
                arrays.append(x)
                i = len(arrays) - 1
            where[-1].append(i)

    def f(arrays, e_loc, previous):
        o = [(b[0], *[arrays[i] for i in w]) for b, w in zip(O, where)]
        return natural_gradient(sr, o, e_loc, step, real, previous=previous)

    return jax.jit(f)(arrays, e_loc, previous)


def cli_in_process(args, cwd, monkeypatch, capsys):
    """``nqs <args>`` through the command line's own ``main`` in this process: (exit code, stdout,
    stderr), run in ``cwd`` (None: where the test is). For the bad-input cases, which fail before any
    work, the interpreter start of a new process would be most of their cost; the tests that run the
    real command keep a subprocess."""
    from nqs.cli import main

    if cwd is not None:
        monkeypatch.chdir(cwd)
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own errors leave through the parser's exit
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


SHORT_RUN_STEPS = 30


def short_run_4x4(out):
    """A short 4x4 RBMSymm run written to ``out``: the file tests and the Lanczos step's use the same
    settings, so that the compilation cache serves the second of them whichever worker it is on."""
    H = nqs.Heisenberg(nqs.Square(4, 4, pbc=True))
    return nqs.ground_state(H, nqs.RBMSymm(H.lattice, alpha=2), n_samples=256, steps=SHORT_RUN_STEPS, seed=0,
                            learning_rate=0.05, out=str(out), progress=False, exact=EXACT_4x4)


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
