"""Compile the Metropolis sweeps as whole loops on a CPU (an XLA option; on in the ``nqs`` command).

XLA's CPU runtime runs a compiled function as a sequence of kernels ("thunks"); a ``while`` loop
is a thunk that launches its body's kernels once per iteration. A Metropolis move of 16 chains is
a dozen kernels on a few hundred numbers, so the launches cost as much as the arithmetic. XLA
hoists a loop whose cost analysis stays under ``xla_cpu_small_while_loop_byte_threshold`` (default
1 KiB) into one compiled function: the whole loop in machine code, no launches. At
``SMALL_LOOP_BYTES`` = 16 MiB the sweep loops of the RBM (4x4 to 10x10, alpha = 1), the DBM and the
FFNN are hoisted, while the chunked local-energy and log-derivative loops and the SR solvers,
whose cost analysis is larger (checked on the RBM 4x4 ... 14x14, RBMSymm alpha = 4 on 10x10, the
DBM and the FFNN on 6x6), keep the thunk runtime and its threads. Measured (2-core CPU,
2026-11-29, RBM alpha = 1, 1008 samples on 16 chains): the 6x6 step 65 -> 54 ms, the 10x10 step
200 -> 170 ms; the same numbers to the last bit (the option changes how a loop runs, not what it
computes).

The option is process-wide: XLA reads ``XLA_FLAGS`` once, when its CPU backend starts, and applies
it to every computation, other libraries' included, where it can hurt: NetKet's 6x6 VMC step
(QGTOnTheFly) went 492 -> 803 ms with it. So it is on where the process is nqs's own, the ``nqs``
command (``nqs run``, ``bench``, ``show``), and opt-in for the Python API: ``NQS_XLA_TUNING=1`` in
the environment before ``import nqs``. ``NQS_XLA_TUNING=0`` keeps it off everywhere. It is not
added where the user's ``XLA_FLAGS`` set ``xla_backend_extra_options`` (theirs win) or where the
JAX backend has already started (too late to apply); ``nqs.XLA_TUNED`` says whether it was.

``compiler_options`` is the other kind of setting: options of one compiled function, which
``jax.jit`` passes to XLA with it, so they apply to nqs's functions only and are on in the API too.
The VMC step, measurement and thermalisation take their ansatz's ``xla_cpu_options``: by default XLA
CPU's elemental emitters for fused loops instead of its MLIR fusion emitters, which compile the
step in 20-30% less time (a 4x4 run's first step 4-10 s sooner) and run the small RBM and FFNN
steps ~10% faster, the numbers the same to rounding (2-core CPU, 2026-11-30).
"""

from __future__ import annotations

import os
import sys

OPTION = "xla_cpu_small_while_loop_byte_threshold"
SMALL_LOOP_BYTES = 1 << 24


def hoisting(environ=os.environ) -> bool:
    """Whether this process's XLA_FLAGS carry the option (the sampler then leaves its loops rolled:
    ``sampler._unroll``)."""
    return f"{OPTION}=" in environ.get("XLA_FLAGS", "")


def _backend_started() -> bool:
    bridge = sys.modules.get("jax._src.xla_bridge")
    return bool(getattr(bridge, "_backends", None))


def tune(environ=os.environ, default: bool = False) -> bool:
    """Add ``--xla_backend_extra_options=OPTION=SMALL_LOOP_BYTES`` to ``XLA_FLAGS`` in ``environ``
    if ``NQS_XLA_TUNING`` asks for it (``default`` when unset); returns whether the option is set."""
    setting = environ.get("NQS_XLA_TUNING")
    flags = environ.get("XLA_FLAGS", "")
    if f"{OPTION}={SMALL_LOOP_BYTES}" in flags:
        return True  # set already (by an earlier call, or by the user to the same value)
    if setting == "0" or (setting != "1" and not default):
        return False
    if "xla_backend_extra_options" in flags or _backend_started():
        return False
    environ["XLA_FLAGS"] = f"{flags} --xla_backend_extra_options={OPTION}={SMALL_LOOP_BYTES}".strip()
    return True


def compiler_options(model, environ=os.environ) -> dict | None:
    """Per-function XLA options for the engine's compiled functions of ``model`` on a CPU (the
    ``compiler_options`` of ``jax.jit``): the ansatz's ``xla_cpu_options``, less those the user's
    ``XLA_FLAGS`` set to another value (theirs win). Unlike the option above they apply to nqs's functions only, so
    they are on in the Python API too; None on other backends."""
    import jax

    if jax.default_backend() != "cpu":
        return None
    import re

    flags = environ.get("XLA_FLAGS", "")
    options = {}
    for key, value in getattr(model, "xla_cpu_options", {}).items():
        theirs = re.search(rf"--{key}=(\S+)", flags)
        if theirs is None or theirs.group(1).lower() == str(value).lower():  # unset, or set to the same
            options[key] = value
    return options or None


def jit(model):
    """``jax.jit`` with ``compiler_options(model)`` where there are any (a decorator)."""
    import jax

    options = compiler_options(model)
    if not options:
        return jax.jit
    return lambda f: _TopLevelJit(f, options)


class _TopLevelJit:
    """A function jitted with compiler options where it is compiled by itself, without them where it
    is traced inside another function (``jax.eval_shape(vmc.init, ...)`` when a file is read back, or
    a user's ``jax.jit`` around the step): jax accepts compiler options only at the top level. The
    rest (``lower``, the cache) is the top-level function's."""

    def __init__(self, f, options):
        import functools

        import jax

        self._top, self._nested = jax.jit(f, compiler_options=options), jax.jit(f)
        functools.update_wrapper(self, f)

    def __call__(self, *args, **kwargs):
        try:
            return self._top(*args, **kwargs)
        except ValueError as exc:
            if "top-level" not in str(exc):
                raise
            return self._nested(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._top, name)
