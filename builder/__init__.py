"""Builds the grokking article: trains its models, renders prose and figures into site/."""
import os as _os

# numpy's OpenBLAS starts a thread per core for every product. The build's products are small
# (67 x 4489 by 4489 x 67 at most) and this machine has two shared cores: threaded, one such
# product took 0.40 s, on one thread 0.02 s (measured side by side while other work ran). Each
# output block is computed by one thread either way, so the numbers are the same. Set before
# numpy is first imported; an explicit setting in the environment wins.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    _os.environ.setdefault(_name, "1")
