"""A flax module view of any nqs ansatz, for NetKet users (``nk.vqs.MCState`` accepts it).

    import netket as nk, nqs
    model = nqs.RBMSymm(lattice, alpha=2)
    vs = nk.vqs.MCState(sampler, nqs.as_flax(model, n_sites=16), n_samples=1008)
    vs.parameters = {"nqs": params}          # the same pytree nqs trains

The module holds the nqs parameter pytree under the single name ``"nqs"`` and evaluates
``model.log_psi`` on a batch; NetKet then samples and differentiates it its own way (no look-up
tables). Models whose extra sampled units NetKet cannot handle are refused.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax


class NQSFlax(nn.Module):
    """log psi of an nqs ansatz as a flax linen module: x of shape (..., N) -> (...)."""

    model: Any
    n_sites: int

    @nn.compact
    def __call__(self, x):
        params = self.param("nqs", lambda key: self.model.init(key, self.n_sites))
        flat = x.reshape(-1, x.shape[-1])
        out = jax.vmap(lambda s: self.model.log_psi(params, s))(flat)
        return out.reshape(x.shape[:-1])


def as_flax(model, n_sites: int) -> NQSFlax:
    """Wrap an nqs ansatz as a flax module for NetKet (parameters under ``{"nqs": params}``)."""
    if getattr(model, "netket_compatible", True) is False:
        raise ValueError(f"{type(model).__name__} carries sampled hidden units that NetKet cannot sample")
    return NQSFlax(model=model, n_sites=int(n_sites))
