"""Chains sharded over several devices give the same run as one device (CPU devices forced by XLA)."""

import json
import os
import subprocess
import sys

SCRIPT = """
import json, jax, numpy as np, nqs
H = nqs.Heisenberg(nqs.Square(4, 2))
r = nqs.ground_state(H, nqs.RBM(alpha=1), n_samples=64, n_chains=8, steps=8, seed=3, progress=False, eval_rounds=1)
sigma = r.state.sampler.sigma
print(json.dumps({"devices": len(jax.devices()), "spread": len(sigma.sharding.device_set),
                  "E": r.history["energy_per_site"].tolist(), "W": np.asarray(r.params["W"]).tolist(),
                  "final": r.energy_per_site}, default=str))
"""


def _run(n_devices):
    # added to the suite's own flags (conftest), not in their place
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={n_devices}".strip()
    env = dict(os.environ, XLA_FLAGS=flags)
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def _run_on_one(capsys):
    """The script on one device: in the test's own process, which has one unless the user's XLA_FLAGS
    force more (then in a subprocess like the four-device run): one Python start and import fewer."""
    import jax

    if len(jax.devices()) != 1:
        return _run(1)
    exec(SCRIPT, {})
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_same_seed_same_result_on_one_and_four_devices(capsys):
    four, one = _run(4), _run_on_one(capsys)
    assert one["devices"] == 1 and four["devices"] == 4
    assert four["spread"] == 4, "the chains are spread over the four devices"
    assert max(abs(a - b) for a, b in zip(one["E"], four["E"])) < 1e-10
    assert abs(one["final"] - four["final"]) < 1e-10
    assert one["W"] == four["W"] or all(
        abs(complex(a) - complex(b)) < 1e-10 for ra, rb in zip(one["W"], four["W"]) for a, b in zip(ra, rb)
    )
