"""Training the holographic network: Adam on minibatches, every epoch under ``jit`` + ``lax.scan``,
an ensemble of seeds under ``vmap``.

The recipe is that of HSTT2 (the authors' PyTorch code): Adam with learning rate 10⁻³, minibatches
of 100 drawn without replacement from a fresh shuffle each epoch, h_n ~ N(4, 3²), λ = 0.2,
L = 0.8 GeV⁻¹ at the start. One epoch of the QCD experiment is 20000/100 = 200 Adam steps, so
5000 epochs are 10⁶ tiny steps per seed: they only run fast as one compiled program. Here a chunk
of epochs (50 by default) is one call of a compiled function: an outer ``lax.scan`` over epochs
(shuffle, then an inner ``lax.scan`` over the minibatch steps), ``vmap``-ed over the seeds, which
share the data and differ in their initial weights and shuffles. The Python loop between chunks
only updates the progress bar and hands the losses to a callback (the HDF5 writer).

Shuffling is one sort of 64-bit words whose high bits are random and whose low bits hold the index:
an exact uniform permutation up to ties in the random part (probability ~n²/2⁵⁰), at the cost of a
single sort, where ``jax.random.permutation`` sorts several times.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from .data import Dataset
from .network import Network, data_loss, init_params, loss


def layer_unroll(n_seeds: int) -> int:
    """Layers per iteration of the compiled layer loop (``network.propagate``), by ensemble size.

    Measured on 2 CPU cores (QCD network, ms per epoch): one seed 4.9 (unroll 1) vs 3.9 (unroll 3);
    10 seeds under vmap 21 vs 30. Unrolling saves loop overhead, which only dominates for one seed.
    """
    return 3 if n_seeds == 1 else 1


class TrainState(NamedTuple):
    """One seed's training state: weights, Adam state (of the flattened weights), shuffle key, epochs done."""

    params: dict
    opt_state: Any
    key: jax.Array
    epoch: jax.Array


class Recipe(NamedTuple):
    """Training settings (HSTT2's by default).

    Attributes:
        epochs: passes over the data.
        batch_size: minibatch size; an epoch is len(data) // batch_size Adam steps (the remainder of
            each shuffle is left out, as with ``drop_last``).
        learning_rate: Adam step size.
        h_mean, h_std: initial h_n ~ N(h_mean, h_std²).
        lam: initial λ (trained by the QCD network; fixed by the field network unless given).
        L: initial AdS radius in GeV⁻¹ (QCD network only).
    """

    epochs: int = 5000
    batch_size: int = 100
    learning_rate: float = 1e-3
    h_mean: float = 4.0
    h_std: float = 3.0
    lam: float | None = 0.2
    L: float | None = 0.8

    def validate(self, n_data: int) -> "Recipe":
        if self.epochs <= 0:
            raise ValueError(f"epochs must be > 0, got {self.epochs}")
        if self.batch_size <= 0 or self.batch_size > n_data:
            raise ValueError(f"batch_size must be in 1..{n_data} (the number of training points), got {self.batch_size}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.h_std < 0:
            raise ValueError(f"h_std must be >= 0, got {self.h_std}")
        return self


@dataclass
class TrainResult:
    """An ensemble's outcome: parameters and loss history of every seed (leading axis = seed).

    Attributes:
        params: dict of arrays, each of shape (n_seeds, ...).
        history: mean training loss (with penalty) of every epoch, shape (n_seeds, epochs).
        seeds: the training seeds.
        compile_time: seconds spent compiling.
        run_time: seconds spent training after compilation.
        steps_per_epoch: Adam steps in one epoch.
    """

    params: dict
    history: np.ndarray
    seeds: list
    compile_time: float
    run_time: float
    steps_per_epoch: int
    extra: dict = field(default_factory=dict)

    @property
    def finite(self) -> np.ndarray:
        """Seeds whose weights and final loss are finite (a diverged seed is reported, not averaged)."""
        ok = np.isfinite(self.history[:, -1])
        for v in self.params.values():
            ok &= np.all(np.isfinite(np.asarray(v).reshape(len(ok), -1)), axis=1)
        return ok

    @property
    def seconds_per_epoch(self) -> float:
        """Run time per epoch of the whole ensemble (all seeds together)."""
        return self.run_time / self.history.shape[1]


def shuffle(key, n: int):
    """A uniformly random permutation of range(n) by one sort of (random bits | index) words."""
    bits = max(1, int(np.ceil(np.log2(n))))
    r = jax.random.bits(key, (n,), jnp.uint64)
    words = (r >> bits << bits) | jnp.arange(n, dtype=jnp.uint64)
    return (jnp.sort(words) & jnp.uint64((1 << bits) - 1)).astype(jnp.int32)


def optimizer(recipe: Recipe) -> optax.GradientTransformation:
    """Adam with the recipe's learning rate (HSTT2)."""
    return optax.adam(recipe.learning_rate)


def init_state(net: Network, recipe: Recipe, seed: int) -> TrainState:
    """The initial state of one seed: weights drawn from ``jax.random.PRNGKey(seed)``.

    Adam's state is kept for the weights flattened into one vector (``ravel_pytree``): the same
    arithmetic as per leaf, with fewer tiny kernels per step.
    """
    k_init, k_loop = jax.random.split(jax.random.PRNGKey(seed))
    params = init_params(net, k_init, h_mean=recipe.h_mean, h_std=recipe.h_std, lam=recipe.lam, L=recipe.L)
    return TrainState(params, optimizer(recipe).init(ravel_pytree(params)[0]), k_loop, jnp.asarray(0, jnp.int32))


def make_epochs(net: Network, recipe: Recipe, n_data: int, n_epochs: int, unroll: int = 1) -> Callable:
    """A pure function (state, x, y) → (state, losses) that trains one seed for ``n_epochs`` epochs.

    Each epoch shuffles, cuts len(x) // batch_size minibatches and scans Adam steps over them;
    ``losses[e]`` is the mean minibatch loss of epoch e (with penalty, before each step's update).
    ``unroll`` is a speed knob of the layer loop (``layer_unroll``).
    """
    opt = optimizer(recipe)
    batch = recipe.batch_size
    n_batches = n_data // batch

    def step(carry, xy, unravel):
        flat, opt_state = carry
        value, g = jax.value_and_grad(lambda v: loss(net, unravel(v), *xy, unroll=unroll))(flat)
        updates, opt_state = opt.update(g, opt_state, flat)
        return (optax.apply_updates(flat, updates), opt_state), value

    def run(state: TrainState, x, y):
        flat, unravel = ravel_pytree(state.params)

        def epoch(carry, _):
            flat, opt_state, key = carry
            key, sub = jax.random.split(key)
            idx = shuffle(sub, n_data)[: n_batches * batch].reshape(n_batches, batch)
            (flat, opt_state), values = jax.lax.scan(lambda c, xy: step(c, xy, unravel), (flat, opt_state),
                                                     (x[idx], y[idx]))
            return (flat, opt_state, key), jnp.mean(values)

        (flat, opt_state, key), losses = jax.lax.scan(epoch, (flat, state.opt_state, state.key), None,
                                                      length=n_epochs)
        return TrainState(unravel(flat), opt_state, key, state.epoch + n_epochs), losses

    return run


def _stack(states: Sequence[TrainState]) -> TrainState:
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *states)


def train(net: Network, data: Dataset, recipe: Recipe = Recipe(), *, seeds: Sequence[int] = (0,),
          init: dict | None = None, chunk: int = 50, progress: bool = True, callback: Callable | None = None,
          description: str = "training") -> TrainResult:
    """Train an ensemble of seeds on the same data, all seeds in one ``vmap``-ed compiled program.

    Args:
        net: the network (``network.SCHWARZSCHILD``, ``network.QCD`` or your own).
        data: training points and labels.
        recipe: epochs, batch size, learning rate and initial weights.
        seeds: one training seed per ensemble member (initial weights and shuffles).
        init: optional starting weights, a dict of arrays with leading axis len(seeds) (a warm
            start, e.g. from ``screen``); the seeds then only set the shuffles. Adam starts afresh.
        chunk: epochs per compiled call; the progress bar and ``callback`` run between calls.
        progress: show a tqdm bar over epochs.
        callback: called as ``callback(first_epoch, losses)`` after each chunk with the chunk's
            losses, shape (n_seeds, epochs_in_chunk) (used to write the history as it grows).

    Returns:
        ``TrainResult`` with the final parameters and the per-epoch loss of every seed.
    """
    net.validate()
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("need at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    if chunk <= 0:
        raise ValueError(f"chunk must be > 0 epochs, got {chunk}")
    recipe.validate(len(data.y))
    x = jnp.asarray(data.x, jnp.float64)
    y = jnp.asarray(data.y, jnp.float64)
    state = _stack([init_state(net, recipe, s) for s in seeds])
    if init is not None:
        if set(init) != set(state.params) or any(np.shape(init[k])[:1] != (len(seeds),) for k in init):
            raise ValueError(
                f"init must hold {sorted(state.params)} with leading axis {len(seeds)} (one row per seed), "
                f"got { {k: np.shape(v) for k, v in init.items()} }"
            )
        params = {k: jnp.asarray(v, jnp.float64) for k, v in init.items()}
        opt_state = jax.vmap(lambda p: optimizer(recipe).init(ravel_pytree(p)[0]))(params)
        state = state._replace(params=params, opt_state=opt_state)

    chunk = min(chunk, recipe.epochs)
    sizes = [chunk] * (recipe.epochs // chunk) + ([recipe.epochs % chunk] if recipe.epochs % chunk else [])
    t0 = time.perf_counter()
    compiled = {}
    for size in set(sizes):
        fn = jax.vmap(make_epochs(net, recipe, len(data.y), size, layer_unroll(len(seeds))), in_axes=(0, None, None))
        compiled[size] = jax.jit(fn, donate_argnums=0).lower(state, x, y).compile()
    compile_time = time.perf_counter() - t0

    from tqdm.auto import tqdm

    history = []
    bar = tqdm(total=recipe.epochs, unit="epoch", desc=description, disable=not progress, leave=True)
    t0 = time.perf_counter()
    done = 0
    try:
        for size in sizes:
            state, losses = compiled[size](state, x, y)
            losses = np.asarray(losses)  # waits for the chunk; the bar shows real progress
            history.append(losses)
            if callback is not None:
                callback(done, losses)
            done += size
            bar.update(size)
            bar.set_postfix(loss=f"{np.nanmedian(losses[:, -1]):.3g}")
    finally:
        bar.close()
    run_time = time.perf_counter() - t0
    return TrainResult(
        params={k: np.asarray(v) for k, v in state.params.items()},
        history=np.concatenate(history, axis=1),
        seeds=seeds,
        compile_time=compile_time,
        run_time=run_time,
        steps_per_epoch=len(data.y) // recipe.batch_size,
    )


class ScreenResult(NamedTuple):
    """The outcome of ``screen``: every candidate's data loss, and the ones kept (best first)."""

    candidates: list
    data_loss: np.ndarray
    kept: list
    params: dict
    run_time: float


def screen(net: Network, data: Dataset, recipe: Recipe = Recipe(), *, candidates: Sequence[int], keep: int,
           epochs: int = 100, learning_rate: float = 1e-2, progress: bool = True) -> ScreenResult:
    """Random restarts with early selection: a short run of many seeds, keeping the ``keep`` best.

    Every candidate starts from the recipe's random weights and trains for ``epochs`` epochs with
    the penalty switched off and Adam at ``learning_rate``; the ``keep`` candidates with the lowest
    data loss (mean |t − y|)² on the whole training set (non-finite ones last) are returned, best
    first, as a warm start for ``train(..., init=result.params)``.

    Why: from h_n ~ N(4, 3²), L = 0.8 GeV⁻¹ the QCD network falls, for almost every seed, into the
    trivial minimum where L grows, every F runs far below −ε and every point is called negative
    (loss 0.25). The smoothness penalty flattens h towards AdS before the data can bend it; without
    it, and with a larger step, about a quarter of random starts reach the basin that classifies
    the data (see docs/ads.md for the numbers).
    """
    candidates = [int(c) for c in candidates]
    if not 0 < keep <= len(candidates):
        raise ValueError(f"keep must be in 1..{len(candidates)} (the number of candidates), got {keep}")
    free = net._replace(c_smooth=0.0, c_boundary=0.0)
    short = recipe._replace(epochs=epochs, learning_rate=learning_rate)
    result = train(free, data, short, seeds=candidates, chunk=min(50, epochs), progress=progress,
                   description="screening")
    x = jnp.asarray(data.x, jnp.float64)
    y = jnp.asarray(data.y, jnp.float64)
    losses = np.asarray(jax.jit(jax.vmap(lambda p: data_loss(net, p, x, y)))(
        {k: jnp.asarray(v) for k, v in result.params.items()}))
    order = np.argsort(np.where(np.isfinite(losses), losses, np.inf), kind="stable")[:keep]
    return ScreenResult(
        candidates=candidates,
        data_loss=losses,
        kept=[candidates[i] for i in order],
        params={k: v[order] for k, v in result.params.items()},
        run_time=result.compile_time + result.run_time,
    )
