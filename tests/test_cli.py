"""The command line: a real run, and one-line errors with exit code 2."""

import json
import os
import subprocess
import sys

import h5py
import pytest
from conftest import cli_in_process

import nqs


def nqs_cli(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "nqs.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env=env)


def test_run_writes_results_and_reports_the_relative_error(tmp_path):
    # with the command's own caches (nqs/_cache.py) in place of the suite's compilation cache
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_COMPILATION_CACHE_DIR", "NQS_CACHE")}
    env["NQS_CACHE_DIR"] = str(tmp_path / "cache")
    p = nqs_cli("run", "--lattice", "4x2", "--steps", "20", "--samples", "128", "--no-progress", cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    # the command kept its compiled functions and the exact energy it reports, for the next run
    assert any((tmp_path / "cache" / "jax").iterdir())
    (entry,) = (tmp_path / "cache" / "ed").glob("*.json")
    exact = nqs.load(tmp_path / "run.h5").runs["main"].attrs["exact_energy_per_site"]
    assert json.loads(entry.read_text())["energy_per_site"] == exact
    assert abs(exact - nqs.ground_state_energy(nqs.Heisenberg(nqs.Square(4, 2)))) < 1e-12
    assert "rel.err" in p.stdout and "exact" in p.stdout
    assert (tmp_path / "run.h5").exists() and (tmp_path / "run.png").stat().st_size > 1000
    data = nqs.load(tmp_path / "run.h5")
    assert len(data.runs["main"].history["energy_per_site"]) == 20
    # the command compiles its sampling loops whole (nqs/_xla.py), and the file says so
    if os.environ.get("NQS_XLA_TUNING") != "0" and "xla_backend_extra_options" not in os.environ.get("XLA_FLAGS", ""):
        with h5py.File(tmp_path / "run.h5", "r") as f:
            assert "xla_cpu_small_while_loop_byte_threshold" in json.loads(f.attrs["versions"])["XLA_FLAGS"]


def test_run_with_the_deep_boltzmann_machine(tmp_path, monkeypatch, capsys):
    code, _, err = cli_in_process(["run", "--lattice", "4x2", "--model", "dbm", "--alpha-deep", "0.5", "--steps", "10",
                                   "--samples", "128", "--no-progress"], tmp_path, monkeypatch, capsys)
    assert code == 0, err
    run = nqs.load(tmp_path / "run.h5").runs["main"]
    assert run.config["model"]["type"] == "DBM" and run.params["Wd"].shape == (4, 8)
    assert len(run.history["energy_per_site"]) == 10
    # show --lanczos on a DBM run: the refusal is a line of the report, and the rest of it goes on
    code, out, err = cli_in_process(["show", "run.h5", "--lanczos", "1"], tmp_path, monkeypatch, capsys)
    assert code == 0, err
    assert "main: lanczos_step: DBM samples hidden units" in out and "wrote run.png" in out


def test_run_with_the_symmetric_feedforward_network_from_a_config_file(tmp_path, monkeypatch, capsys):
    """The options from a TOML file (keys with underscores), the command line overriding one of them;
    a Lanczos step on the final state after the run (``lanczos = ROUNDS``)."""
    (tmp_path / "c.toml").write_text('lattice = "4x2"\nmodel = "ffnnsymm"\nalpha = 2\nsymmetries = "space_group"\n'
                                     'steps = 3\nsamples = 64\nout = "cfg.h5"\nlanczos = 2\nsweep_size = 4\n')
    code, out, err = cli_in_process(["run", "c.toml", "--steps", "5", "--no-progress"], tmp_path, monkeypatch, capsys)
    assert code == 0, err
    assert "main, one Lanczos step on 128 fresh samples at step 5: E/N = " in out and "rel. error" in out
    run = nqs.load(tmp_path / "cfg.h5").runs["main"]
    assert run.config["model"]["type"] == "FFNNSymm" and run.config["model"]["symmetries"] == "space_group"
    assert run.params["W"].shape == (2, 8) and run.config["sampler"]["sweep_size"] == 4
    assert run.config["steps"] == 5 and len(run.history["energy_per_site"]) == 5 and run.config["n_samples"] == 64


def test_run_with_the_deep_feedforward_network(tmp_path, monkeypatch, capsys):
    """--model deepffnn with its layers' widths (multiples of N) from the command line. The settings are
    those of test_ffnn's DeepFFNN search, whose compiled step the suite's compilation cache then holds."""
    code, out, err = cli_in_process(["run", "--lattice", "4x2", "--model", "deepffnn", "--widths", "2", "--steps", "5",
                                     "--samples", "512", "--lr", "0.05", "--diag-shift", "1e-3", "--no-progress",
                                     "--no-exact"], tmp_path, monkeypatch, capsys)
    assert code == 0, err
    assert "DeepFFNN widths=2" in out
    run = nqs.load(tmp_path / "run.h5").runs["main"]
    assert run.config["model"]["type"] == "DeepFFNN" and tuple(run.config["model"]["widths"]) == (2.0,)
    assert set(run.params) == {"layer0"} and run.params["layer0"]["W"].shape == (16, 8)  # one hidden layer of 2N
    assert len(run.history["energy_per_site"]) == 5


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--lattice", "4by4"], "does not parse"),
        (["run", "--lattice", "3x4"], "odd periodic length"),
        (["run", "--alpha", "0"], "must be > 0"),
        (["run", "--steps", "-3"], "must be > 0"),
        (["run", "--sweep-size", "0"], "must be > 0"),
        (["run", "--lattice", "6x6", "--model", "rbm", "--samples", "8"], "n_samples"),
        (["run", "--lattice", "1x1"], "single site"),
        (["run", "--model", "dbm", "--alpha-deep", "-1"], "alpha_deep"),
        (["run", "--model", "rbmsymm", "--symmetries", "rotations"], "symmetries"),
        (["run", "--model", "rbm", "--symmetries", "space_group"], "--model rbmsymm"),
        (["run", "--model", "dbm", "--no-marshall"], "Marshall sign rule"),
        (["run", "--momentum", "1"], "momentum must be in [0, 1)"),
        (["run", "--model", "deepffnn", "--widths", "2,x"], "widths must be comma-separated positive"),
        (["run", "--model", "deepffnn", "--widths", "2,0"], "widths must be comma-separated positive"),
        (["run", "--model", "ffnn", "--widths", "2"], "--model deepffnn"),
        # an option of another ansatz is refused even at its default value, not silently ignored
        (["run", "--model", "ffnn", "--widths", "2,1"], "drop --widths or use --model deepffnn"),
        (["run", "--model", "rbm", "--symmetries", "translations"], "drop --symmetries"),
        (["run", "--model", "rbmsymm", "--alpha-deep", "0.25"], "drop --alpha-deep or use --model dbm"),
        (["run", "--lattice", "4x2", "--model", "dbm", "--lanczos", "2"], "samples hidden units"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys, args, message):
    code, _, err = cli_in_process([*args, "--no-progress"], tmp_path, monkeypatch, capsys)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run.h5").exists()


def test_a_config_file_option_of_another_ansatz_is_refused(tmp_path, monkeypatch, capsys):
    """A config file that sets the DeepFFNN's widths (here at their default) for an RBM run is
    refused with the key named, as on the command line, and no file is written."""
    (tmp_path / "c.toml").write_text('lattice = "4x2"\nmodel = "rbm"\nwidths = [2, 1]\n')
    code, _, err = cli_in_process(["run", "c.toml", "--no-progress"], tmp_path, monkeypatch, capsys)
    assert code == 2 and "widths=2,1 are the layers of --model deepffnn, not of the rbm" in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "run.h5").exists()


def test_existing_output_is_never_overwritten(tmp_path, monkeypatch, capsys):
    (tmp_path / "run.h5").write_bytes(b"an earlier run")
    code, _, err = cli_in_process(["run", "--lattice", "4x2", "--steps", "2", "--no-progress"], tmp_path, monkeypatch, capsys)
    assert code == 2 and "already exists" in err
    assert (tmp_path / "run.h5").read_bytes() == b"an earlier run"
