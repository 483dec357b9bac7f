"""Ansätze: one file per family, all following the protocol of ``models.base``."""

from .base import GenericModel
from .rbm import RBM, RBMSymm

__all__ = ["GenericModel", "RBM", "RBMSymm"]
