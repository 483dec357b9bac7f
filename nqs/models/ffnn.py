"""Feedforward wavefunctions: Saito's shallow network and a deep network that outputs log psi.

``FFNN`` — Saito, J. Phys. Soc. Jpn. 86, 093001 (2017): the amplitude is a weighted sum of
activated hidden units,

    psi(sigma) = sum_i f_i g(theta_i),   theta = W sigma + b   (M = alpha N hidden units),

kept with its sign/phase: log psi = log(sum_i f_i g(theta_i)) taken complex. The pre-activations
theta are the same look-up table as the RBM's: flipping the sites F changes them by
-2 sum_{i in F} W_:i sigma_i, so a ratio costs O(|F| M) instead of O(N M). With sigmoid (the
default) or tanh units the M activations of a ratio go too: g(x) = c0 + c1 tanh(k x), and tanh's
addition theorem updates u = tanh(k theta) by one division per unit from per-bond tables of
tanh(k D_b), as the RBM's cosh ratios (``_SumOfUnits``). Measured (2-core CPU, 2026-11-29, complex
alpha = 1, 1008 samples): the 4x4 step 35 -> 10 ms, sampling 9.1 -> 2.2 ms and local energies
14.6 -> 2.5 ms; the 6x6 step 126 -> 46 ms. Log-derivatives in closed form, O_f = g / A,
O_b = f g' / A, O_W = O_b sigma^T (A = sum_i f_i g(theta_i)), the last an outer block for SR.

``FFNNSymm`` — Saito's form summed over a group of lattice symmetries T_g (the translations or the
whole space group), as ``RBMSymm`` ties the RBM's: alpha filters W_f, hidden units (f, g) with
theta_{f,g} = b_f + sum_j W_{f j} sigma_{T_g(j)}, weights f_f shared by a filter's units, so
psi(sigma o T_h) = psi(sigma) for every h of the group:

    psi(sigma) = sum_f f_f sum_g g(theta_{f,g}).

It expands to a dense FFNN (the same look-up table) and contracts the log-derivatives back in
closed form, with S = sum_{f,g} f_f g(theta_{f,g}) and g' the activation's derivative:
O_{f_f} = sum_g g(theta_{f,g}) / S, O_{b_f} = f_f sum_g g'(theta_{f,g}) / S,
O_{W_f j} = f_f sum_g g'(theta_{f,g}) sigma_{T_g(j)} / S. On 4x4 the dense form stalls near
4e-2 whatever its size; the sum over the translations of 8 log-cosh filters (144 parameters)
reaches 1.6e-3, closer than the plain RBM's 2.8e-3 (README).

``DeepFFNN`` — the modern form: a multilayer perceptron sigma -> h_1 -> ... -> log psi, complex
weights, activation between layers, the last layer summed into one complex number. No look-up table
applies to deep layers; it uses the generic path (full evaluation per ratio), as NetKet does.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..lattice import Square
from .base import GenericModel
from .rbm import _check_alpha, _check_dtype, _log_cosh, _normal, _over_units, _TiedFilters, _units_batch

ACTIVATIONS = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "logcosh": _log_cosh,
    "softplus": lambda x: jnp.logaddexp(0.0, x) if not jnp.iscomplexobj(x) else jnp.log1p(jnp.exp(x)),
}


def _activation(name):
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


# Activations with an addition theorem: g(x) = c0 + c1 tanh(k x), and
# tanh(y + z) = (tanh y + tanh z) / (1 + tanh y tanh z). (c0, c1, k) per activation.
TANH_FORMS = {"tanh": (0.0, 1.0, 1.0), "sigmoid": (0.5, 0.5, 0.5)}


def _reciprocal(den):
    """1 / den; complex as conj(den) / |den|^2, one real division (XLA's complex division takes
    its overflow-safe scaled path, several times slower; den is O(1) here)."""
    if not jnp.iscomplexobj(den):
        return 1 / den
    inv = 1 / (jnp.real(den) ** 2 + jnp.imag(den) ** 2)
    return jax.lax.complex(jnp.real(den) * inv, -jnp.imag(den) * inv)


def _complex_log(x):
    return jnp.log(x.astype(jnp.result_type(x.dtype, jnp.complex64)))


class _SumOfUnits(GenericModel):
    """Saito's amplitude psi = sum_i f_i g(theta_i) over the (dense) hidden units of ``tables``,
    theta = W sigma + b kept as the look-up table.

    For sigmoid and tanh, g(x) = c0 + c1 tanh(k x) (``TANH_FORMS``), the cache is u = tanh(k theta)
    with the amplitude A = sum_i f_i (c0 + c1 u_i) instead: flipping sites moves theta by delta, and
    tanh's addition theorem gives u' = (u + T) / (1 + u T) with T = tanh(k delta). For the exchange
    of bond (i, j) with s = sigma_i = -sigma_j, delta = -s D with D = 2 (W_:i - W_:j), so
    T = -s tau with tau = tanh(k D) tabulated once per step for every bond (``exchange_tables``):
    a move costs one division per hidden unit and no transcendental function, like the RBM's
    (Carleo & Troyer's look-up tables, applied to Saito's form). Other activations keep theta and
    evaluate g on every unit of every ratio.
    """

    @property
    def _tanh_form(self):
        return TANH_FORMS.get(self.activation)

    def _log_amplitude(self, params, theta):
        return _complex_log(jnp.sum(params["f"] * _activation(self.activation)(theta)))

    def _amplitude(self, tables, u):
        """A = sum_i f_i (c0 + c1 u_i) over the last axis of u."""
        c0, c1, _ = self._tanh_form
        # a fused multiply and sum rather than a dot: XLA then never writes the (bonds, units) u'
        # of the local energy to memory (6x6 local energies 8.2 -> 6.7 ms)
        return c0 * jnp.sum(tables["f"]) + c1 * jnp.sum(u * tables["f"], axis=-1)

    def log_psi(self, params, sigma):
        t = self.tables(params)
        return self._log_amplitude(t, t["W"] @ sigma.astype(t["W"].dtype) + t["b"])

    def cache(self, tables, sigma):
        theta = tables["W"] @ sigma.astype(tables["W"].dtype) + tables["b"]
        if self._tanh_form is None:
            return theta, self._log_amplitude(tables, theta)
        u = jnp.tanh(self._tanh_form[2] * theta)
        return u, self._amplitude(tables, u)

    def move(self, tables, sigma, cache, flips):
        delta = -2 * tables["W"][:, flips] @ sigma[flips].astype(tables["W"].dtype)
        if self._tanh_form is None:
            theta, log_amp = cache
            new_log = self._log_amplitude(tables, theta + delta)
            return new_log - log_amp, (theta + delta, new_log)
        u, amp = cache
        T = jnp.tanh(self._tanh_form[2] * delta)
        new_u = (u + T) * _reciprocal(1 + u * T)
        new_amp = self._amplitude(tables, new_u)
        return _complex_log(new_amp / amp), (new_u, new_amp)

    def _units(self, tables, cache):
        """(g(theta), g'(theta), A) per hidden unit from the cache."""
        if self._tanh_form is None:
            theta, _ = cache
            value, slope = jax.jvp(_activation(self.activation), (theta,), (jnp.ones_like(theta),))
            return value, slope, jnp.sum(tables["f"] * value)
        c0, c1, k = self._tanh_form
        u, amp = cache
        return c0 + c1 * u, c1 * k * (1 - u * u), amp

    # -- exchange moves (tanh forms only): per-bond tables ------------------------------------

    def exchange_tables(self, tables, bonds):
        """``tables`` with tau = tanh(k D) per bond (B, M) for exchange moves on ``bonds`` (B, 2);
        unchanged for activations without an addition theorem."""
        if self._tanh_form is None:
            return tables
        bonds = jnp.asarray(bonds)
        W = tables["W"]
        D = 2 * (W[:, bonds[:, 0]] - W[:, bonds[:, 1]]).T
        tau = jnp.tanh(self._tanh_form[2] * D)
        parts = [tau.real, tau.imag] if jnp.iscomplexobj(tau) else [tau]
        return {**tables, "exchange": {"bonds": bonds, "tanh": tau,
                                       # the local energy's layout: hidden unit, part, bond (_bond_sums)
                                       "columns": jnp.stack(parts, axis=1).transpose(2, 1, 0)}}

    def propose_exchange(self, tables, sigma, cache, b):
        """``propose`` for the exchange of bond ``b``, whose spins are anti-aligned."""
        ex = tables["exchange"]
        u, amp = cache
        st = sigma[ex["bonds"][b, 0]].astype(ex["tanh"].dtype) * ex["tanh"][b]
        new_u = (u - st) * _reciprocal(1 - u * st)
        new_amp = self._amplitude(tables, new_u)
        log_abs = 0.5 * jnp.log(_abs2(new_amp) / _abs2(amp))
        return log_abs, (new_u, new_amp)

    def exchange_ratios(self, tables, sigma, cache):
        """psi(sigma^{ij}) / psi(sigma) for every bond of ``exchange_tables`` (B,); meaningful on
        the anti-aligned bonds only (the local energy masks the others)."""
        ex = tables["exchange"]
        u, amp = cache
        s = sigma[ex["bonds"][:, 0]].astype(ex["columns"].dtype)
        c0, c1, _ = self._tanh_form
        return (c0 * jnp.sum(tables["f"]) + c1 * _bond_sums(ex["columns"], s, u, tables["f"])) / amp

    def exchange_batch(self, tables, n_samples):
        """Samples per local-energy batch on a CPU (``VMC._cache_batch``), as the RBM's
        (``rbm.RBM.exchange_batch``): all of them when ``_bond_sums`` is one fused pass."""
        return _units_batch(tables["exchange"]["columns"], n_samples)


def _bond_sums(columns, s, u, f):
    """sum_k f_k u'_bk with u'_bk = (u_k - s_b tau_bk) / (1 - s_b u_k tau_bk), for every bond b:
    ``columns`` (M, 2, B) holds tau', tau'' of the bonds (M, 1, B for real parameters), ``s`` (B,)
    the sign s_b, ``u`` and ``f`` (M,). Accumulated over the hidden units in real arithmetic on (B,)
    vectors, one fused pass, as the RBM's products (``rbm._bond_products``), instead of a (B, M)
    array of u' per sample in batches: 6x6 local energies of 1008 samples 10.7 / 12.4 -> 7.3 / 6.6 ms,
    4x4 3.0 / 3.8 -> 2.5 / 3.1 ms (2-core CPU, the two versions alternated; equal to 4e-15)."""
    complex_ = columns.shape[1] == 2

    def add(acc, col, x):
        if complex_:
            (tr, ti), (ur, ui, fr, fi) = col, x
            sr, si = s * tr, s * ti  # s tau
            nr, ni = ur - sr, ui - si  # u - s tau
            dr, di = 1 - (ur * sr - ui * si), -(ur * si + ui * sr)  # 1 - u s tau
            m = 1 / (dr * dr + di * di)
            qr, qi = (nr * dr + ni * di) * m, (ni * dr - nr * di) * m
            term = (fr * qr - fi * qi, fr * qi + fi * qr)
        else:
            (tr,), (ur, fr) = col, x
            st = s * tr
            term = (fr * (ur - st) / (1 - ur * st),)
        return term if acc is None else tuple(a + t for a, t in zip(acc, term))

    zero = jnp.zeros((columns.shape[2],), columns.dtype)
    x = (jnp.real(u), jnp.imag(u), jnp.real(f), jnp.imag(f)) if complex_ else (u, f)
    acc = _over_units(columns, x, add, (zero, zero) if complex_ else (zero,))
    return jax.lax.complex(*acc) if complex_ else acc[0]


def _abs2(x):
    return jnp.real(x) ** 2 + jnp.imag(x) ** 2 if jnp.iscomplexobj(x) else x * x


@dataclass(frozen=True)
class FFNN(_SumOfUnits):
    """Saito's feedforward ansatz psi = sum_i f_i g(W sigma + b)_i with a look-up table for theta.

    Args:
        alpha: hidden-unit density M/N (> 0).
        activation: g, one of sigmoid (default), tanh, logcosh, softplus.
        dtype: parameter dtype (complex128 default).
        scale: standard deviation of the random initial W and b (f starts at 1 + noise).
    """

    alpha: float = 1
    activation: str = "sigmoid"
    dtype: str = "complex128"
    scale: float = 0.05

    def __post_init__(self):
        _check_alpha(self.alpha)
        _activation(self.activation)
        object.__setattr__(self, "dtype", str(_check_dtype(self.dtype)))

    def init(self, key, n_sites: int):
        M = max(1, int(round(self.alpha * n_sites)))
        kw, kb, kf = jax.random.split(key, 3)
        dt = np.dtype(self.dtype)
        return {
            "W": _normal(kw, (M, n_sites), dt, self.scale),
            "b": _normal(kb, (M,), dt, self.scale),
            "f": (1.0 + _normal(kf, (M,), dt, self.scale)).astype(dt),
        }

    # Log-derivatives in closed form, with A = sum_i f_i g(theta_i): O_f = g(theta) / A,
    # O_b = f g'(theta) / A and O_W = O_b sigma^T, an outer product that SR uses as one.

    def _derivative_parts(self, tables, cache):
        value, slope, amp = self._units(tables, cache)
        return tables["f"] * slope / amp, value / amp

    def log_derivatives(self, params, tables, sigma, cache):
        o_b, o_f = self._derivative_parts(tables, cache)
        out = ravel_pytree({"W": o_b[:, None] * sigma.astype(o_b.dtype)[None, :], "b": o_b, "f": o_f})[0]
        return out.astype(jnp.result_type(out.dtype, jnp.complex64))

    def log_derivative_blocks(self, params, tables, sigmas, caches):
        o_b, o_f = jax.vmap(self._derivative_parts, in_axes=(None, 0))(tables, caches)
        return [("outer", o_b, sigmas.astype(jnp.real(o_b).dtype)), ("dense", o_b), ("dense", o_f)]  # W, b, f


@dataclass(frozen=True)
class FFNNSymm(_TiedFilters, _SumOfUnits):
    """Saito's ansatz summed over lattice symmetries: psi = sum_f f_f sum_g g(theta_{f,g}).

    Args:
        lattice: the ``Square`` lattice whose symmetries tie the weights.
        alpha: number of filters (alpha |G| hidden units: alpha N with the translations).
        activation, dtype, scale: as for ``FFNN``.
        symmetries: ``"translations"`` (default) or ``"space_group"``, as for ``RBMSymm``.
    """

    lattice: Square
    alpha: int = 2
    activation: str = "sigmoid"
    dtype: str = "complex128"
    scale: float = 0.05
    symmetries: str = "translations"

    def __post_init__(self):
        self._check_filters()
        _activation(self.activation)

    def init(self, key, n_sites: int):
        self._check_sites(n_sites)
        kw, kb, kf = jax.random.split(key, 3)
        dt = np.dtype(self.dtype)
        return {
            "W": _normal(kw, (self.alpha, n_sites), dt, self.scale),
            "b": _normal(kb, (self.alpha,), dt, self.scale),
            "f": (1.0 + _normal(kf, (self.alpha,), dt, self.scale)).astype(dt),
        }

    def tables(self, params):
        """The dense FFNN: hidden unit (f, g) has the weights W_dense[(f, g), i] = W[f, T_g^{-1}(i)]."""
        G = len(self.group)
        return {"W": self._tied_weights(params["W"]), "b": jnp.repeat(params["b"], G), "f": jnp.repeat(params["f"], G)}

    def log_derivatives(self, params, tables, sigma, cache):
        value, slope, S = self._units(tables, cache)  # g(theta), g'(theta), sum_{f,g} f_f g(theta_{f,g})
        G = len(self.group)
        value, slope = value.reshape(self.alpha, G) / S, slope.reshape(self.alpha, G) / S
        s_t = self._images(sigma).astype(slope.dtype)
        f = params["f"][:, None].astype(slope.dtype)
        grads = {"W": f * (slope @ s_t), "b": f[:, 0] * jnp.sum(slope, axis=1), "f": jnp.sum(value, axis=1)}
        out = ravel_pytree(grads)[0]
        return out.astype(jnp.result_type(out.dtype, jnp.complex64))


DEEP_FACTORS = 2**22  # pre-activations per local-energy batch of the DeepFFNN on a CPU (64 MB in complex128)


@dataclass(frozen=True)
class DeepFFNN(GenericModel):
    """Multilayer perceptron log psi(sigma) = sum(W_L g(... g(W_1 sigma + b_1) ...) + b_L), complex,
    with a look-up table for the first layer's W_1 sigma + b_1 (the layers above evaluated per ratio).

    Args:
        widths: hidden-layer widths as multiples of N, e.g. (2, 1) for two layers of 2N and N units.
        activation: between layers, one of logcosh (default), tanh, sigmoid, softplus.
        dtype: parameter dtype (complex128 default).
        scale: the initial weights are scale / sqrt(fan-in) times standard normals.
    """

    widths: tuple = (2, 1)
    activation: str = "logcosh"
    dtype: str = "complex128"
    scale: float = 0.1

    # the step of the layers above the first, mostly complex log cosh, runs faster with XLA's MLIR
    # fusion emitters (base.GenericModel.xla_cpu_options)
    xla_cpu_options = {}

    def __post_init__(self):
        widths = tuple(self.widths) if not isinstance(self.widths, (int, float)) else (self.widths,)
        if not widths:
            raise ValueError("DeepFFNN: widths must name at least one hidden layer, e.g. (2, 1)")
        for w in widths:
            _check_alpha(w)
        object.__setattr__(self, "widths", widths)
        _activation(self.activation)
        object.__setattr__(self, "dtype", str(_check_dtype(self.dtype)))

    def init(self, key, n_sites: int):
        dt = np.dtype(self.dtype)
        sizes = [n_sites] + [max(1, int(round(w * n_sites))) for w in self.widths]
        params = {}
        keys = jax.random.split(key, 2 * len(sizes))
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            params[f"layer{layer}"] = {
                "W": _normal(keys[2 * layer], (fan_out, fan_in), dt, self.scale / np.sqrt(fan_in)),
                "b": _normal(keys[2 * layer + 1], (fan_out,), dt, self.scale),
            }
        return params

    def _from_first_layer(self, params, theta):
        """log psi from the first layer's pre-activations theta = W_1 sigma + b_1."""
        g = _activation(self.activation)
        x = g(theta)
        for layer in range(1, len(self.widths)):
            p = params[f"layer{layer}"]
            x = g(x.astype(p["W"].dtype) @ p["W"].T + p["b"])
        out = jnp.sum(x)
        return out.astype(jnp.result_type(out.dtype, jnp.complex64))

    def log_psi(self, params, sigma):
        return self.cache(params, sigma)[1]  # the tables are the parameters

    # The first layer's look-up table (Carleo & Troyer's, for its pre-activations): the cache holds
    # theta = W_1 sigma + b_1 with log psi, and flipping sites moves theta by -2 W_1[:, flips]
    # sigma[flips], a few columns instead of the N x M_1 product; the layers above are evaluated
    # in full, as they must be (every unit of layer 2 depends on every unit of layer 1).

    def cache(self, tables, sigma):
        p = tables["layer0"]
        theta = p["W"] @ sigma.astype(p["W"].dtype) + p["b"]
        return theta, self._from_first_layer(tables, theta)

    def move(self, tables, sigma, cache, flips):
        W = tables["layer0"]["W"]
        theta, log_amp = cache
        theta = theta - 2 * W[:, flips] @ sigma[flips].astype(W.dtype)
        new = self._from_first_layer(tables, theta)
        return new - log_amp, (theta, new)

    # -- exchange moves: per-bond tables of the first layer ------------------------------------
    #
    # Exchanging the anti-aligned spins of bond b = (i, j), s = sigma_i = -sigma_j, moves the first
    # layer's pre-activations by -s D_b with D_b = 2 (W_1[:, i] - W_1[:, j]), tabulated once per step
    # for every bond, as the RBM's (``rbm.RBM.exchange_tables``): one multiply-add per unit of the
    # first layer instead of two gathered weight columns per bond and sample.

    def exchange_tables(self, tables, bonds):
        """``tables`` with D = 2 (W_1[:, i] - W_1[:, j]) per bond (B, M_1) for exchange moves on
        ``bonds`` (B, 2)."""
        bonds = jnp.asarray(bonds)
        W = tables["layer0"]["W"]
        return {**tables, "exchange": {"bonds": bonds, "D": 2 * (W[:, bonds[:, 0]] - W[:, bonds[:, 1]]).T}}

    def propose_exchange(self, tables, sigma, cache, b):
        """``propose`` for the exchange of bond ``b``, whose spins are anti-aligned."""
        ex = tables["exchange"]
        theta, log_amp = cache
        theta = theta - sigma[ex["bonds"][b, 0]].astype(ex["D"].dtype) * ex["D"][b]
        new = self._from_first_layer(tables, theta)
        return jnp.real(new - log_amp), (theta, new)

    def exchange_ratios(self, tables, sigma, cache):
        """psi(sigma^{ij}) / psi(sigma) for every bond of ``exchange_tables`` (B,); 1 on the aligned
        bonds, which the local energy masks."""
        ex = tables["exchange"]
        theta, log_amp = cache
        first = sigma[ex["bonds"][:, 0]]
        moved = theta - first.astype(ex["D"].dtype)[:, None] * ex["D"]  # (B, M_1)
        new = jax.vmap(self._from_first_layer, in_axes=(None, 0))(tables, moved)
        return jnp.exp(jnp.where(first != sigma[ex["bonds"][:, 1]], new - log_amp, 0.0))

    def exchange_batch(self, tables, n_samples):
        """Samples per local-energy batch on a CPU (``VMC._cache_batch``): all of them up to
        ``DEEP_FACTORS`` pre-activations per batch (samples x bonds x widest layer). The layers'
        passes stream their arrays whatever the batch (1008 samples on 4x4: 41 ms unbatched against
        51-52 ms in batches of 126-504; on 6x6 ~190 ms either way), so the bound is for memory."""
        widest = max(tables[f"layer{layer}"]["W"].shape[0] for layer in range(len(self.widths)))
        per_sample = tables["exchange"]["bonds"].shape[0] * widest
        return max(1, min(n_samples, DEEP_FACTORS // per_sample))
