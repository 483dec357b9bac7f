"""The command's caches (nqs/_cache.py): where they live, exact energies kept and checked, and a JAX
compilation cache set only where none is."""

import json

import jax
import pytest

import nqs
from nqs import _cache

H8 = nqs.Heisenberg(nqs.Square(4, 2))


def test_the_cache_directory_follows_the_environment(tmp_path):
    assert _cache.directory({"NQS_CACHE": "0", "NQS_CACHE_DIR": str(tmp_path)}) is None
    assert _cache.directory({"NQS_CACHE_DIR": str(tmp_path / "a" / "b")}) == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()
    assert _cache.directory({"XDG_CACHE_HOME": str(tmp_path / "xdg")}) == tmp_path / "xdg" / "nqs"
    (tmp_path / "file").write_text("x")
    assert _cache.directory({"NQS_CACHE_DIR": str(tmp_path / "file" / "nqs")}) is None  # cannot be made


def test_exact_energies_are_kept_checked_and_recomputed_when_damaged(tmp_path, monkeypatch):
    import nqs.exact

    exact = nqs.ground_state_energy(H8, cache=tmp_path)
    assert abs(exact - nqs.ground_state_energy(H8)) < 1e-12  # Lanczos from a random start: rounding apart
    (entry,) = (tmp_path / "ed").glob("*.json")
    assert json.loads(entry.read_text())["key"]["n_sites"] == 8

    def refuse(*args, **kwargs):
        raise AssertionError("diagonalised again")

    with monkeypatch.context() as m:
        m.setattr(nqs.exact, "sector_matrix", refuse)
        assert nqs.ground_state_energy(H8, cache=tmp_path) == exact  # read back, not recomputed
        open_lattice = nqs.Heisenberg(nqs.Square(4, 2, pbc=False))
        with pytest.raises(AssertionError, match="diagonalised again"):  # another Hamiltonian, another entry
            nqs.ground_state_energy(open_lattice, cache=tmp_path)
        # an entry under this Hamiltonian's name that holds another key is not believed
        entry.write_text(json.dumps({"key": _cache.ed_key(open_lattice), "energy_per_site": -1.0}))
        with pytest.raises(AssertionError, match="diagonalised again"):
            nqs.ground_state_energy(H8, cache=tmp_path)
    entry.write_text('{"key": ')  # half a file
    again = nqs.ground_state_energy(H8, cache=tmp_path)
    assert abs(again - exact) < 1e-12 and json.loads(entry.read_text())["energy_per_site"] == again  # replaced


def test_compilation_cache_is_set_only_where_none_is(tmp_path):
    # the suite runs with its own cache (conftest): left alone, as a user's would be
    assert jax.config.jax_compilation_cache_dir
    assert _cache.enable_compilation_cache({"NQS_CACHE_DIR": str(tmp_path)}) is None
    saved = jax.config.jax_compilation_cache_dir, jax.config.jax_compilation_cache_max_size
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        jax.config.update("jax_compilation_cache_max_size", -1)
        assert _cache.enable_compilation_cache({"NQS_CACHE": "0"}) is None
        assert _cache.enable_compilation_cache({"JAX_COMPILATION_CACHE_DIR": "/elsewhere"}) is None
        assert jax.config.jax_compilation_cache_dir is None
        assert _cache.enable_compilation_cache({"NQS_CACHE_DIR": str(tmp_path)}) == tmp_path / "jax"
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "jax")
        assert jax.config.jax_compilation_cache_max_size == _cache.JAX_CACHE_BYTES  # bounded
    finally:
        jax.config.update("jax_compilation_cache_dir", saved[0])
        jax.config.update("jax_compilation_cache_max_size", saved[1])
