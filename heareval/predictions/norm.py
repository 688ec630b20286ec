"""The hidden layers' BatchNorm, affine, dropout and ReLU in training: one autograd node."""

from __future__ import annotations

import torch

BN_EPS = 1e-5  # torch.nn.BatchNorm1d's eps


class TrainingNorm(torch.autograd.Function):
    """BatchNorm on batch statistics, affine, dropout and ReLU of h (C, B, width): one node.

    As separate operations autograd records a dozen nodes, each a pass over the batch. Dropout
    follows the affine: relu(z) mask / keep == relu(z / keep) mask, so 1 / keep is folded into the
    per-unit scale and shift. Returns (output, batch mean, biased batch variance).
    """

    @staticmethod
    def forward(ctx, h, gamma, beta, mask, inverse_keep):
        mean = h.mean(1, keepdim=True)
        centred = h - mean
        var = centred.square().mean(1, keepdim=True)
        rstd = torch.rsqrt(var + BN_EPS)
        scale = gamma * rstd * inverse_keep
        out = torch.addcmul(beta * inverse_keep, centred, scale).mul_(mask).relu_()
        ctx.save_for_backward(centred, rstd, scale, inverse_keep, out)
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    def backward(ctx, grad, _mean, _var):
        centred, rstd, scale, inverse_keep, out = ctx.saved_tensors
        n = grad.shape[1]
        g = torch.ops.aten.threshold_backward(grad, out, 0)  # grad where out > 0
        sum_g = g.sum(1, keepdim=True)
        sum_gc = (g * centred).sum(1, keepdim=True)
        # d/dh of BatchNorm: scale (g - mean(g) - centred rstd^2 mean(g centred))
        dh = torch.addcmul(scale * sum_g / -n, g, scale)
        dh.addcmul_(centred, scale * rstd.square() * sum_gc / -n)
        return dh, sum_gc * rstd * inverse_keep, sum_g * inverse_keep, None, None
