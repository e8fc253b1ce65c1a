"""Blocks shared by several model families; a family's own blocks stay in its model file.

- ``attention``: multi-head attention (self / cross, bias, causal) and a relative-position bias
- ``transformer``: a pre-norm transformer layer, its feed-forward, sinusoidal positions
- ``conformer``: Conformer encoder, strided conv front end, BEST-RQ pre-training pieces
- ``conv``: the dilated residual 1-D conv block of the motion VQ-VAEs
- ``quantizers``: EMA vector quantizers and the straight-through estimator
- ``legacy``: loading checkpoints saved under a family's former attribute names
"""
