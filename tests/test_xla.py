"""nqs's XLA setting for the sampling loops (nqs/_xla.py): opt-in for the API, on in the command,
sweeps compiled whole, and the same numbers with it as without."""

import json
import os
import subprocess
import sys

import jax
import pytest

from nqs import _xla

OPTION = f"--xla_backend_extra_options={_xla.OPTION}={_xla.SMALL_LOOP_BYTES}"


def test_opt_in_for_the_api_on_for_the_command_and_the_users_options_win(monkeypatch):
    monkeypatch.setattr(_xla, "_backend_started", lambda: False)  # as at import (the suite has started it)
    env = {}
    assert _xla.tune(env) is False and "XLA_FLAGS" not in env  # the API's default: off
    assert _xla.tune(env, default=True) is True and env["XLA_FLAGS"] == OPTION  # the command's
    assert _xla.tune(env) is True and env["XLA_FLAGS"] == OPTION  # set once, reported after
    assert _xla.tune({"NQS_XLA_TUNING": "0"}, default=True) is False
    env = {"NQS_XLA_TUNING": "1", "XLA_FLAGS": "--xla_backend_optimization_level=0"}
    assert _xla.tune(env) is True and env["XLA_FLAGS"] == f"--xla_backend_optimization_level=0 {OPTION}"
    env = {"NQS_XLA_TUNING": "1", "XLA_FLAGS": "--xla_backend_extra_options=xla_cpu_small_call=1"}
    assert _xla.tune(env) is False and env["XLA_FLAGS"] == "--xla_backend_extra_options=xla_cpu_small_call=1"


def test_not_applied_once_the_backend_has_started():
    jax.devices()  # this process's backend is running: XLA has read its flags
    env = {"NQS_XLA_TUNING": "1"}
    assert _xla.tune(env) is False and "XLA_FLAGS" not in env


_SCRIPT = """
import json, jax, numpy as np, nqs
H = nqs.Heisenberg(nqs.Square(4, 4))
vmc = nqs.VMC(H, nqs.RBM(alpha=1), n_samples=256)
state = vmc.init(jax.random.PRNGKey(3))
step = vmc.make_step()
energies = []
for _ in range(3):
    state, info = step(state)
    energies.append(float(info["energy_per_site"]))
draw = jax.jit(lambda p, s: nqs.sampler.sample(vmc.sampler, vmc.model, H.tables(vmc.model, p), H, s,
                                                vmc.n_per_chain, vmc.sampler.n_discard)[:2])
hlo = draw.lower(state.params, state.sampler).compile().as_text()
sweeps = [l for l in hlo.splitlines() if 'xla_cpu_small_call="true"' in l and "f64[16,16]" in l]
print(json.dumps({"tuned": nqs.XLA_TUNED, "energies": energies, "whole_sweeps": len(sweeps),
                  "sigma": np.asarray(state.sampler.sigma).tolist(),
                  "W": np.asarray(state.params["W"]).view(np.float64).tolist()}))
"""


@pytest.mark.skipif("xla_backend_extra_options" in os.environ.get("XLA_FLAGS", ""),
                    reason="the user's XLA_FLAGS set xla_backend_extra_options")
def test_sweeps_compiled_whole_with_the_same_numbers():
    """Three 4x4 VMC steps in two processes, one with the setting and one without: the sampler's
    sweep loops (their carry holds the 16 x 16 chains) become whole compiled calls, and the energies, chains and
    parameters agree to the last bit."""
    out = {}
    for setting in ("1", "0"):
        p = subprocess.run([sys.executable, "-c", _SCRIPT], env=dict(os.environ, NQS_XLA_TUNING=setting),
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        out[setting] = json.loads(p.stdout.strip().splitlines()[-1])
    on, off = out["1"], out["0"]
    assert on["tuned"] and not off["tuned"]
    assert on["whole_sweeps"] >= 2 and off["whole_sweeps"] == 0  # discarded and kept sweeps
    assert on["energies"] == off["energies"] and on["sigma"] == off["sigma"] and on["W"] == off["W"]


def test_engine_options_come_from_the_ansatz_and_the_users_flags_win():
    import nqs

    rbm_options = _xla.compiler_options(nqs.RBM(alpha=1), environ={})
    assert rbm_options == {"xla_cpu_use_fusion_emitters": False}
    assert _xla.compiler_options(nqs.DeepFFNN(), environ={}) is None  # faster with the fusion emitters
    assert _xla.compiler_options(nqs.RBM(alpha=1), environ={"XLA_FLAGS": "--xla_cpu_use_fusion_emitters=true"}) is None
    # the same value (the suite's own flags, conftest) keeps the per-function path that users run
    assert _xla.compiler_options(nqs.RBM(alpha=1), environ={"XLA_FLAGS": "--xla_cpu_use_fusion_emitters=false"}) == rbm_options


def test_the_emitters_change_how_the_step_is_compiled_not_its_numbers(monkeypatch):
    """The same three 4x2 VMC steps compiled with XLA CPU's elemental emitters (the RBM's setting) and
    with its MLIR fusion emitters: the same energies and parameters to rounding."""
    import dataclasses

    import numpy as np

    import nqs

    @dataclasses.dataclass(frozen=True)
    class FusionEmitterRBM(nqs.RBM):
        xla_cpu_options = {"xla_cpu_use_fusion_emitters": True}

    monkeypatch.setenv("XLA_FLAGS", "")  # the suite's own flags set the option to false (conftest); they would win
    H = nqs.Heisenberg(nqs.Square(4, 2))
    out = []
    for model in (nqs.RBM(alpha=1), FusionEmitterRBM(alpha=1)):
        vmc = nqs.VMC(H, model, n_samples=64)
        state = vmc.init(jax.random.PRNGKey(5))
        step = vmc.make_step()
        # inside another trace (reading a file back traces init; a user may jit around the step) the
        # functions go without their options, which jax takes only at the top level
        assert jax.eval_shape(vmc.init, jax.random.PRNGKey(0)).params["W"].shape == (8, 8)
        assert jax.eval_shape(step, state)[1]["energy_per_site"].shape == ()
        energies = []
        for _ in range(3):
            state, info = step(state)
            energies.append(float(info["energy_per_site"]))
        out.append((energies, np.asarray(state.params["W"])))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-10, atol=1e-13)
