"""Ansätze: one file per family, all following the protocol of ``models.base``."""

from .base import GenericModel
from .dbm import DBM
from .ffnn import FFNN, DeepFFNN, FFNNSymm
from .flax_view import as_flax
from .rbm import RBM, RBMSymm

__all__ = ["DBM", "DeepFFNN", "FFNN", "FFNNSymm", "GenericModel", "RBM", "RBMSymm", "as_flax"]

REGISTRY = {"RBM": RBM, "RBMSymm": RBMSymm, "DBM": DBM, "FFNN": FFNN, "FFNNSymm": FFNNSymm, "DeepFFNN": DeepFFNN}


def model_from_config(config: dict, lattice):
    """Rebuild an ansatz from the description a run file stores (``{"type": "RBM", "alpha": 1, ...}``)."""
    from dataclasses import fields

    cls = REGISTRY.get(config.get("type"))
    if cls is None:
        raise ValueError(f"unknown ansatz {config.get('type')!r} in the file; known: {', '.join(REGISTRY)}")
    kwargs = {f.name: config[f.name] for f in fields(cls) if f.init and f.name in config and f.name != "lattice"}
    if "widths" in kwargs:
        kwargs["widths"] = tuple(kwargs["widths"])
    if any(f.name == "lattice" for f in fields(cls)):
        kwargs["lattice"] = lattice
    return cls(**kwargs)
