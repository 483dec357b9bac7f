"""The ``nqs`` command's on-disk caches: XLA's compiled functions and exact ground-state energies.

A default ``nqs run`` on 4x4 spent two thirds of its minute on work that is the same every time:
compiling the VMC step, measurement and thermalisation (~20 s on a 2-core CPU) and diagonalising
the 4x4 Hamiltonian through NetKet (~15 s, most of it NetKet tracing and compiling its sparse-matrix
construction; since the measurement shares the step's program and ``nqs.exact`` assembles NetKet's
matrix elements itself, a cold run takes 36 s and a warm one 16 s). The command keeps both across runs:

- JAX's persistent compilation cache (``jax_compilation_cache_dir``) in ``<cache>/jax``, bounded
  by ``jax_compilation_cache_max_size`` (least recently used entries go first). Its key covers the
  program, the compile options (the ansatz's per-function XLA options included), ``XLA_FLAGS``,
  the jax and jaxlib versions and the device, so a stale entry is never used.
- Ground-state energies from exact diagonalisation in ``<cache>/ed``, one JSON file per
  Hamiltonian (sites, bonds, J, Sz sector, sign rule), each holding its own key, which is checked
  on reading; a file that does not read back is recomputed and replaced.

``<cache>`` is ``$NQS_CACHE_DIR``, else ``$XDG_CACHE_HOME/nqs``, else ``~/.cache/nqs``;
``NQS_CACHE=0`` turns both caches off. A JAX cache you set yourself (``JAX_COMPILATION_CACHE_DIR``
or ``jax.config``) is left alone. The Python API writes nothing to disk unless asked:
``nqs.ground_state_energy(H, cache=...)`` takes a directory.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

#: the compilation cache's bound, where the user set none
JAX_CACHE_BYTES = 2 << 30


def directory(environ=os.environ) -> Path | None:
    """The cache directory (created), or None where ``NQS_CACHE=0`` or it cannot be written."""
    if environ.get("NQS_CACHE") == "0":
        return None
    if environ.get("NQS_CACHE_DIR"):
        path = Path(environ["NQS_CACHE_DIR"])
    else:
        base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        path = Path(base) / "nqs"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def enable_compilation_cache(environ=os.environ) -> Path | None:
    """Point JAX's persistent compilation cache at ``<cache>/jax`` unless one is set already;
    returns the directory used, or None where nothing was changed."""
    import jax

    if environ.get("JAX_COMPILATION_CACHE_DIR") or jax.config.jax_compilation_cache_dir:
        return None
    root = directory(environ)
    if root is None:
        return None
    path = root / "jax"
    jax.config.update("jax_compilation_cache_dir", str(path))
    if jax.config.jax_compilation_cache_max_size == -1 and "JAX_COMPILATION_CACHE_MAX_SIZE" not in environ:
        # the bounded cache locks its directory with filelock (a dependency: without it jax writes nothing)
        jax.config.update("jax_compilation_cache_max_size", JAX_CACHE_BYTES)
    return path


def ed_key(hamiltonian) -> dict:
    """What the exact ground-state energy depends on, in a form that JSON keeps exactly."""
    bonds = sorted(tuple(sorted((int(i), int(j)))) for i, j in hamiltonian.lattice.bonds)
    return {"n_sites": int(hamiltonian.n_sites), "bonds": [list(b) for b in bonds], "J": float(hamiltonian.J),
            "total_sz": float(hamiltonian.total_sz), "marshall_sign": bool(hamiltonian.marshall_sign)}


def _ed_path(root: Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return Path(root) / "ed" / f"{digest}.json"


def read_ed(root, hamiltonian) -> float | None:
    """The cached energy per site, or None (no file, or one that does not hold this Hamiltonian's key)."""
    key = ed_key(hamiltonian)
    try:
        entry = json.loads(_ed_path(root, key).read_text())
        if entry["key"] == key:
            return float(entry["energy_per_site"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def write_ed(root, hamiltonian, energy_per_site: float, **about) -> None:
    """Store an energy (written to a temporary file and renamed: a reader never sees half of it);
    a cache that cannot be written is skipped, never an error."""
    key = ed_key(hamiltonian)
    path = _ed_path(root, key)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"key": key, "energy_per_site": float(energy_per_site), **about}))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
