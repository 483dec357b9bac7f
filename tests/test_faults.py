"""Results survive faults: SIGKILL, exact resume, divergence, a full disk, damaged files, bad configs."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import h5py
import numpy as np
import pytest
from conftest import cli_in_process

import nqs

H8 = nqs.Heisenberg(nqs.Square(4, 2))
SMALL = dict(n_samples=64, seed=4, learning_rate=0.05, progress=False, eval_rounds=1, checkpoint_every=5)


def cli(*args, cwd, **kw):
    return subprocess.Popen([sys.executable, "-m", "nqs.cli", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def run_cli(*args, cwd):
    p = cli(*args, cwd=cwd)
    out, err = p.communicate(timeout=600)
    return p.returncode, out, err


def test_resume_after_a_cut_reproduces_the_uninterrupted_run(tmp_path):
    # with SPRING's momentum and a learning-rate schedule, so that the checkpoint must carry the last
    # SR direction and the schedule's step count too (without them, the state is the same less
    # VMCState.direction and with an optimizer state of no leaves)
    import optax

    sr = nqs.SR(momentum=0.9)
    optimizer = optax.sgd(optax.cosine_decay_schedule(0.05, 20, alpha=0.1))
    full = nqs.ground_state(H8, nqs.RBM(alpha=1), steps=20, out=str(tmp_path / "full.h5"), sr=sr,
                            optimizer=optimizer, **SMALL)

    def cut(step, info):
        if step == 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        nqs.ground_state(H8, nqs.RBM(alpha=1), steps=20, out=str(tmp_path / "cut.h5"), callback=cut, sr=sr,
                         optimizer=optimizer, **SMALL)
    partial = nqs.load(tmp_path / "cut.h5").runs["main"]
    assert not partial.finished and len(partial.history["energy_per_site"]) == 13

    with pytest.raises(ValueError, match="custom optimizer"):
        nqs.resume(tmp_path / "cut.h5", progress=False)
    resumed = nqs.resume(tmp_path / "cut.h5", progress=False, optimizer=optimizer)
    np.testing.assert_array_equal(resumed.history["energy_per_site"], full.history["energy_per_site"])
    np.testing.assert_array_equal(resumed.params["W"], full.params["W"])
    assert resumed.energy_per_site == full.energy_per_site
    assert resumed.wall_time >= np.sum(resumed.history["step_time"])  # the steps before the cut count too
    rec = nqs.load(tmp_path / "cut.h5").runs["main"]
    assert rec.finished and len(rec.history["energy_per_site"]) == 20
    # a measurement rebuilds the run with the default SGD and reads the parameters and chains around
    # the stored optimizer state and direction (it failed on such a file before): the same state as the
    # run's own final estimate, on independent samples
    m = nqs.measure(tmp_path / "cut.h5", rounds=4)
    assert m.step == 20 and abs(m.energy_per_site - full.energy_per_site) < 4 * np.hypot(m.error, full.error), (m, full)


def test_sigkill_leaves_a_readable_file_and_resume_continues(tmp_path, monkeypatch, capsys):
    p = cli("run", "--lattice", "4x2", "--samples", "64", "--steps", "100000", "--checkpoint-every", "5",
            "--no-progress", "--no-exact", cwd=tmp_path)
    path = tmp_path / "run.h5"
    deadline = time.time() + 300
    rows = 0
    while time.time() < deadline and rows < 23:
        time.sleep(0.5)
        if path.exists():
            try:
                rows = len(nqs.load(path).runs["main"].history["energy_per_site"])
            except (nqs.NQSFileError, KeyError):
                rows = 0
    os.kill(p.pid, signal.SIGKILL)
    p.communicate()
    assert rows >= 23, "the run did not get going"
    rec = nqs.load(path).runs["main"]
    lengths = {len(v) for v in rec.history.values()}
    assert len(lengths) == 1, "no half-written rows"
    n = lengths.pop()
    assert n >= 23 and np.all(np.isfinite(rec.history["energy_per_site"]))
    assert rec.attrs["status"] == "running" and rec.checkpoint_step >= 20
    code, out, err = cli_in_process(["run", "--resume", "run.h5", "--steps", str(rec.checkpoint_step + 3), "--no-progress"],
                                    tmp_path, monkeypatch, capsys)
    assert code == 0, err
    rec = nqs.load(path).runs["main"]
    assert rec.finished and len(rec.history["energy_per_site"]) == rec.checkpoint_step


class FragileRBM(nqs.RBM):
    """An RBM whose amplitudes overflow (a NaN energy) once any weight exceeds 0.3 in modulus."""

    def tables(self, params):
        import jax.numpy as jnp

        t = super().tables(params)
        bad = jnp.abs(params["W"]).max() > 0.3
        t["a"] = jnp.where(bad, jnp.nan, t["a"])
        return t


def test_divergence_is_recovered_and_recorded(tmp_path):
    out = tmp_path / "div.h5"
    r = nqs.ground_state(H8, FragileRBM(alpha=1), n_samples=64, steps=40, seed=0, learning_rate=2.0,
                         progress=False, eval_rounds=1, out=str(out), max_failures=20)
    assert len(r.events) >= 1
    assert np.all(np.isfinite(r.history["energy_per_site"])) and len(r.history["energy_per_site"]) == 40
    assert np.isfinite(r.energy_per_site)
    rec = nqs.load(out).runs["main"]
    assert len(rec.events) == len(r.events) and rec.events[0]["kind"].startswith("non-finite")
    assert all(np.all(np.isfinite(v)) for v in rec.params.values())


def test_persistent_divergence_stops_with_a_clear_message(tmp_path):
    out = tmp_path / "boom.h5"
    with pytest.raises(nqs.DivergenceError, match="diverged 4 times"):
        nqs.ground_state(H8, nqs.RBM(alpha=1), n_samples=64, steps=30, seed=0, learning_rate=1e4,
                         progress=False, out=str(out), max_failures=3)
    rec = nqs.load(out).runs["main"]
    assert not rec.finished and rec.params is None, "no non-finite final state is written"
    assert len(rec.events) == 4


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs, mounted for real (CI runs as root); filled by the test as it needs."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def _fill(disk, leave_bytes):
    import shutil

    free = shutil.disk_usage(disk).free
    (disk / "filler").write_bytes(b"\0" * max(0, free - leave_bytes))


def test_disk_full_stops_the_run_and_keeps_what_was_written(small_disk):
    from nqs.io import RunWriter

    _fill(small_disk, RunWriter.reserve_bytes + 120 * 1024)
    out = small_disk / "run.h5"
    with pytest.raises(OSError, match="nearly full") as info:
        nqs.ground_state(H8, nqs.RBM(alpha=1), n_samples=16, n_chains=16, steps=100_000, progress=False,
                         out=str(out), checkpoint_every=1)
    assert "readable" in str(info.value) and "--resume" in str(info.value)
    rec = nqs.load(out).runs["main"]
    n = len(rec.history["energy_per_site"])
    assert n > 10 and rec.checkpoint_step is not None and rec.checkpoint_step >= n - 1


def test_a_full_disk_refuses_to_start(small_disk):
    _fill(small_disk, 64 * 1024)
    with pytest.raises(OSError, match="nearly full"):
        nqs.ground_state(H8, nqs.RBM(alpha=1), n_samples=16, steps=3, progress=False, out=str(small_disk / "r.h5"))


def test_unwritable_output_is_refused_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("x")
    for bad in (tmp_path / "nodir" / "run.h5", tmp_path / "afile" / "run.h5"):
        with pytest.raises(ValueError, match="directory"):
            nqs.ground_state(H8, nqs.RBM(alpha=1), n_samples=32, steps=2, out=str(bad), progress=False)


@pytest.mark.parametrize("kind", ["not-nqs", "truncated", "schema"])
def test_resume_refuses_files_it_cannot_trust(tmp_path, monkeypatch, capsys, kind):
    path = tmp_path / "bad.h5"
    if kind == "not-nqs":
        with h5py.File(path, "w") as f:
            f["data"] = np.arange(3)
    else:
        nqs.ground_state(H8, nqs.RBM(alpha=1), steps=5, out=str(path), **SMALL)
        if kind == "truncated":
            path.write_bytes(path.read_bytes()[:3000])
        else:
            with h5py.File(path, "r+") as f:
                f.attrs["schema_version"] = 99
    before = path.read_bytes()
    code, out, err = cli_in_process(["run", "--resume", "bad.h5", "--no-progress"], tmp_path, monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "toml, key",
    [('alhpa = 2\n', "alhpa"), ('steps = "300"\n', "steps"), ('alpha = -1\n', "alpha"), ('model = "cnn"\n', "model")],
)
def test_bad_config_files_name_the_key(tmp_path, monkeypatch, capsys, toml, key):
    (tmp_path / "c.toml").write_text('lattice = "4x2"\n' + toml)
    code, out, err = cli_in_process(["run", "c.toml", "--no-progress"], tmp_path, monkeypatch, capsys)
    assert code == 2 and f"'{key}'" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run.h5").exists()


def test_show_prints_the_table_and_writes_a_figure(tmp_path, monkeypatch, capsys):
    nqs.ground_state(H8, nqs.RBM(alpha=1), steps=5, out=str(tmp_path / "s.h5"), exact=-0.60251117, **SMALL)
    code, out, err = run_cli("show", "s.h5", "--measure", "2", cwd=tmp_path)  # the real command, once
    assert code == 0, err
    assert "| main | finished | 5 |" in out and "rel. error" in out
    assert "main: E/N = -0." in out and "on 128 fresh samples at step 5" in out  # 2 rounds of SMALL's 64
    code, out, err = cli_in_process(["show", "s.h5", "--lanczos", "2"], tmp_path, monkeypatch, capsys)
    assert code == 0, err
    assert "main, one Lanczos step on 128 fresh samples at step 5: E/N = -0." in out and "zero-variance" in out
    assert (tmp_path / "s.png").stat().st_size > 1000
    code, out, err = cli_in_process(["show", "missing.h5"], tmp_path, monkeypatch, capsys)
    assert code == 2 and "no such file" in err


def test_reader_fuzz_raises_its_own_error_and_never_crashes(tmp_path):
    good = tmp_path / "good.h5"
    nqs.ground_state(H8, nqs.RBM(alpha=1), steps=3, out=str(good), **SMALL)
    script = textwrap.dedent(f"""
        import random, nqs
        data = open({str(good)!r}, "rb").read()
        rng = random.Random(0)
        other = 0
        for i in range(150):
            kind = i % 3
            if kind == 0:
                blob = data[: rng.randrange(len(data))]
            elif kind == 1:
                blob = bytearray(data)
                for _ in range(20):
                    blob[rng.randrange(len(blob))] = rng.randrange(256)
                blob = bytes(blob)
            else:
                blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000)))
            path = {str(tmp_path / 'fuzz.h5')!r}
            open(path, "wb").write(blob)
            try:
                nqs.load(path)
            except nqs.NQSFileError:
                pass
            except Exception as exc:
                other += 1
                print("OTHER", type(exc).__name__, exc)
        print("done", other)
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "done 0" in p.stdout, p.stdout[-2000:]


class FrozenRBM(nqs.RBM):
    """A real RBM started with a staggered visible bias of +-40: every exchange move away from the
    Neel state costs |psi|^2 a factor e^-320, so once thermalised no proposal is ever accepted."""

    def init(self, key, n_sites):
        import jax.numpy as jnp

        params = super().init(key, n_sites)
        x, y = np.divmod(np.arange(n_sites), 2)  # 4x2: site = 2x + y
        params["a"] = jnp.asarray(40.0 * (-1.0) ** (x + y), params["a"].dtype)
        return params


def test_frozen_chains_are_a_failure_not_a_result(tmp_path):
    # a collapsed state measures a finite, plausible energy from chains that never move; the driver
    # must not report it as a ground state
    out = tmp_path / "frozen.h5"
    with pytest.raises(nqs.DivergenceError, match=r"diverged 3 times .*frozen chains"):
        nqs.ground_state(H8, FrozenRBM(alpha=1, dtype="float64"), n_samples=64, steps=10, seed=0,
                         learning_rate=1e-3, progress=False, out=str(out), max_failures=2)
    rec = nqs.load(out).runs["main"]
    assert [e["kind"] for e in rec.events] == ["frozen chains (no proposal accepted)"] * 3
    assert len(rec.history["acceptance"]) == 0 and not rec.finished
