"""Engines that do the arithmetic: the reference loop and the fast paths.

The fast engines import numba; they are imported on first use so that ``import padlab`` stays
quick.
"""
