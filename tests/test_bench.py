"""`nqs bench`: one table of every method against the reference, an HDF5 file and a PNG; bad input
costs one line, exit code 2, and nothing on disk."""

import subprocess
import sys

import pytest
from conftest import cli_in_process

import nqs
from nqs import bench

EXACT_2x4 = -0.6025111717968489  # ED per site, nqs.ground_state_energy (2x4 periodic)

def bench_subprocess(*args, cwd):
    return subprocess.run([sys.executable, "-m", "nqs.cli", "bench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def bench_in_process(args, capsys):
    """`nqs bench ARGS` in this process (no interpreter start-up): (exit code, stdout, stderr)."""
    return cli_in_process(["bench", *args], None, None, capsys)


def test_bench_on_2x4_prints_the_table_and_writes_every_row_and_a_png(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default output, bench.h5 and bench.png, in the working directory
    code, stdout, stderr = bench_in_process(
        # two ansätze keep the test short; every registry entry is built in the registry test below
        ["--lattice", "2x4", "--models", "rbm,rbmsymm", "--steps", "4", "--samples", "64", "--chi", "4,16",
         "--no-progress"], capsys
    )
    assert code == 0, stderr
    assert "energy per site E/N in units of J" in stdout and "| method | size (params or χ) |" in stdout
    assert "reference: -0.60251117, exact diagonalisation" in stdout
    assert (tmp_path / "bench.png").stat().st_size > 1000

    data = nqs.load(tmp_path / "bench.h5")
    assert data.attrs["kind"] == "bench" and data.attrs["status"] == "finished"
    assert "S = sigma/2" in data.attrs["energy_unit"]
    assert '"physics-tenpy"' in data.attrs["versions"] and '"chi_list": [4, 16]' in data.attrs["config"]
    assert set(data.runs) == {"rbm", "rbmsymm"}
    for run in data.runs.values():
        assert run.finished and len(run.history["energy_per_site"]) == 4
        assert run.attrs["exact_energy_per_site"] == pytest.approx(EXACT_2x4)
    assert data.baselines["ed"]["energy_per_site"] == pytest.approx(EXACT_2x4, abs=1e-10)
    assert list(data.baselines["dmrg"]["chi"]) == [4, 16]
    assert data.baselines["dmrg"]["energy_per_site"][-1] == pytest.approx(EXACT_2x4, abs=1e-8)

    rows = bench.read_rows(tmp_path / "bench.h5")
    assert [r["name"] for r in rows] == ["ed", "rbm", "rbmsymm", "dmrg_chi4", "dmrg_chi16"]
    assert all(f"| {r['method']} | {r['size']} | {r['energy_per_site']:.8f} |" in stdout for r in rows)
    vmc = [r for r in rows if r["kind"] == "vmc"]
    assert all(r["n_params"] > 0 and r["error"] > 0 and r["relative_error"] > 0 for r in vmc)
    assert rows[-1]["relative_error"] < 1e-8 and rows[-2]["truncation_error"] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lattice", "6x6", "--reference", "ed"], "exact diagonalisation of 36 sites is refused"),
        (["--models", "rbm,transformer"], "unknown model 'transformer'; known models: rbm, rbmsymm"),
        (["--lattice", "4by4"], "does not parse"),
        (["--lattice", "3x4"], "odd periodic length"),
        (["--chi", "64,big"], "bond dimensions '64,big' do not parse"),
        (["--lattice", "2x4", "--open", "--reference", "table"], "no entry for 2x4_obc"),
        (["--steps", "0"], "must be > 0"),
    ],
)
def test_bad_input_gives_one_line_exit_code_2_and_no_file(tmp_path, capsys, args, message):
    out = tmp_path / "bench.h5"
    code, stdout, stderr = bench_in_process([*args, "--out", str(out), "--no-progress"], capsys)
    assert code == 2
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert not out.exists() and not (tmp_path / "bench.png").exists()


def test_an_existing_output_is_never_overwritten_by_the_command(tmp_path):
    (tmp_path / "bench.h5").write_bytes(b"an earlier benchmark")
    p = bench_subprocess("--lattice", "2x4", "--no-progress", cwd=tmp_path)
    assert p.returncode == 2 and "already exists" in p.stderr and "--force" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr  # one line, no traceback
    assert (tmp_path / "bench.h5").read_bytes() == b"an earlier benchmark"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["bench.h5"]


def test_an_existing_png_is_never_overwritten_either(tmp_path, capsys):
    (tmp_path / "bench.png").write_bytes(b"an earlier figure")
    out = str(tmp_path / "bench.h5")
    code, _, stderr = bench_in_process(["--lattice", "2x4", "--out", out, "--no-progress"], capsys)
    assert code == 2 and "bench.png already exists" in stderr
    assert (tmp_path / "bench.png").read_bytes() == b"an earlier figure"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["bench.png"]


def test_above_the_ed_limit_the_table_reference_and_its_citation_are_used():
    result = bench.run_bench("4x4", models="none", chi_list=None, out=None, progress=False, max_ed_sites=8)
    assert result.reference.kind == "table"
    assert result.reference.energy_per_site == pytest.approx(-0.70178020)
    assert "Sandvik, PRB 56, 11678 (1997)" in result.table()
    assert [r.kind for r in result] == ["table"]


def test_without_ed_or_table_the_best_variational_energy_is_the_reference():
    result = bench.run_bench("2x4", models="none", chi_list=[2, 16], out=None, progress=False, pbc=False,
                             max_ed_sites=4)
    assert result.reference.kind == "variational" and "DMRG" in result.reference.label
    assert result.reference.energy_per_site == pytest.approx(-0.5366333070821342, abs=1e-8)  # ED of 2x4 open
    assert result[-1].relative_error == 0 and result[0].relative_error > 0
    assert "no exact or QMC reference for 2x4_obc" in result.table()


def test_the_model_registry_builds_every_ansatz_and_names_the_known_ones():
    lattice = nqs.Square(2, 4)
    for name, spec in bench.MODELS.items():
        assert spec.make(lattice) is not None and spec.learning_rate > 0 and spec.diag_shift > 0
    assert bench.parse_models("all") == list(bench.MODELS)
    assert bench.parse_models("none") == []
    assert bench.parse_models("RBMSymm, rbm,rbm") == ["rbmsymm", "rbm"]
    with pytest.raises(ValueError, match="known models: " + ", ".join(bench.MODELS)):
        bench.parse_models("dbm9")


def test_chi_lists_parse_sorted_or_none():
    assert bench.parse_chi("256,64,128") == [64, 128, 256]
    assert bench.parse_chi("none") == [] and bench.parse_chi(None) == []
    with pytest.raises(ValueError, match="positive integers"):
        bench.parse_chi([64, 0])


def test_reading_the_table_of_a_file_without_one_is_a_clear_error(tmp_path):
    import h5py

    path = tmp_path / "run.h5"
    with h5py.File(path, "w") as f:  # an nqs file of another command: no /bench/rows
        f.attrs["schema_version"] = 1
    with pytest.raises(nqs.NQSFileError, match="no benchmark table"):
        bench.read_rows(path)


def test_an_ansatz_that_diverges_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    import nqs.vmc

    def diverge(*args, **kwargs):
        raise nqs.DivergenceError("the optimisation diverged 6 times (last at step 3)")

    monkeypatch.setattr(nqs.vmc, "ground_state", diverge)
    out = tmp_path / "bench.h5"
    result = bench.run_bench("2x4", models="rbm", chi_list=[16], out=out, progress=False, max_ed_sites=4)
    assert [r.method for r in result] == ["RBM α=1 (diverged)", "DMRG (trunc. 0.0e+00)"]
    assert result.reference.kind == "variational" and result[-1].relative_error == 0
    assert "| RBM α=1 (diverged) | — | — |" in result.table()
    data = nqs.load(out)
    assert data.runs["rbm"].attrs["status"] == "diverged" and "diverged 6 times" in data.runs["rbm"].attrs["message"]
    assert (tmp_path / "bench.png").exists()
