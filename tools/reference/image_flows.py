"""PyTorch reference of the multi-scale image flows of docs/ENGINE.md ("Image flows"), written the
way PyTorch users write them (NCHW tensors, nn.Conv2d, masks as tensors), so that it checks the
C# engine's own layout tricks (channels-last rows, im2col, gathers) rather than repeating them.

Conventions it shares with the engine:
  * rows are images channels first (CHW flattened); the flow divides by the pixel range, applies
    logit(alpha + (1 - 2 alpha) x), then the levels;
  * squeeze: output channel c*4 + dy*2 + dx at (h, w) is input channel c at (2h + dy, 2w + dx);
    split: the first ceil(C/2) channels stay in the flow;
  * checkerboard masks keep pixels with (h + w) even (odd when flipped); channel masks keep the
    first floor(C/2) channels (the rest when flipped);
  * conditioner: h = f(conv3x3(x)); per block h = f(h + conv1x1(f(conv3x3(h)))); out = conv3x3(h);
    its output channels are [shift(T) | rawScale(T)] for T transformed channels (checkerboard:
    T = C, values at kept pixels unused); affine y = x * exp(s) + shift, s = c * tanh(raw / c);
  * ActNorm per channel: y = (x + shift) * exp(logScale); invertible 1x1 convolution
    W = P L (U + diag(exp(logScale))), P[i, perm[i]] = 1; both log|det| = H W sum(logScale);
  * the latent row is [last level | half factored out before it | ... | level 0's half], each
    part channels last (HWC).
State-dict names equal the engine's parameter names; the engine stores a conv weight as
[out, kh*kw*in] in (kh, kw, in) order, i.e. weight.permute(0, 2, 3, 1).reshape(out, -1)
(engine_tensor below).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "elu": F.elu}


def channels_last(x):
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


def squeeze(x):
    b, c, h, w = x.shape
    return x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)


class ConvResNet(nn.Module):
    def __init__(self, in_channels, hidden, blocks, out_channels, activation):
        super().__init__()
        self.input = nn.Conv2d(in_channels, hidden, 3, padding=1)
        self.blocks = nn.ModuleList(nn.ModuleDict({"conv3x3": nn.Conv2d(hidden, hidden, 3, padding=1),
                                                   "conv1x1": nn.Conv2d(hidden, hidden, 1)}) for _ in range(blocks))
        self.output = nn.Conv2d(hidden, out_channels, 3, padding=1)
        self.f = ACTIVATIONS[activation]

    def forward(self, x):
        h = self.f(self.input(x))
        for block in self.blocks:
            h = self.f(h + block["conv1x1"](self.f(block["conv3x3"](h))))
        return self.output(h)


class ImageCoupling(nn.Module):
    def __init__(self, channels, mask, flip, leaf, hidden, blocks, activation, scale_clamp=3.0):
        super().__init__()
        self.mask, self.flip, self.leaf, self.scale_clamp = mask, flip, leaf, scale_clamp
        if mask == "checkerboard":
            in_channels = transformed = channels
        else:
            first = channels // 2
            self.kept = list(range(first, channels)) if flip else list(range(first))
            self.changed = list(range(first)) if flip else list(range(first, channels))
            in_channels, transformed = len(self.kept), len(self.changed)
        self.transformed = transformed
        kinds = 2 if leaf == "affine" else 1
        self.conditioner = ConvResNet(in_channels, hidden, blocks, kinds * transformed, activation)

    def leaf_forward(self, x, out):
        t = self.transformed
        shift = out[:, :t]
        if self.leaf == "additive":
            return x + shift, torch.zeros_like(x)
        c = self.scale_clamp
        s = c * torch.tanh(out[:, t:2 * t] / c)
        return x * torch.exp(s) + shift, s

    def forward(self, x):
        if self.mask == "checkerboard":
            h, w = x.shape[2], x.shape[3]
            parity = (torch.arange(h)[:, None] + torch.arange(w)[None, :]) % 2
            keep = (parity == (1 if self.flip else 0)).to(x.dtype)[None, None]
            y, s = self.leaf_forward(x, self.conditioner(x * keep))
            return keep * x + (1 - keep) * y, ((1 - keep) * s).sum(dim=(1, 2, 3))
        y, s = self.leaf_forward(x[:, self.changed], self.conditioner(x[:, self.kept]))
        out = x.clone()
        out[:, self.changed] = y
        return out, s.sum(dim=(1, 2, 3))


class ChannelActNorm(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(1, channels))
        self.logScale = nn.Parameter(torch.zeros(1, channels))

    def forward(self, x):
        hw = x.shape[2] * x.shape[3]
        y = (x + self.shift[0][None, :, None, None]) * torch.exp(self.logScale[0])[None, :, None, None]
        return y, (hw * self.logScale.sum()).expand(x.shape[0])


class InvertibleConv1x1(nn.Module):
    def __init__(self, channels, perm):
        super().__init__()
        self.lower = nn.Parameter(torch.zeros(channels, channels))
        self.upper = nn.Parameter(torch.zeros(channels, channels))
        self.logScale = nn.Parameter(torch.zeros(1, channels))
        self.perm = list(perm)

    def weight(self):
        c = self.lower.shape[0]
        eye = torch.eye(c, dtype=self.lower.dtype)
        lower = torch.tril(self.lower, -1) + eye
        upper = torch.triu(self.upper, 1) + torch.diag(torch.exp(self.logScale[0]))
        return eye[self.perm] @ lower @ upper

    def forward(self, x):
        c, hw = x.shape[1], x.shape[2] * x.shape[3]
        return F.conv2d(x, self.weight().view(c, c, 1, 1)), (hw * self.logScale.sum()).expand(x.shape[0])


class Marker(nn.Module):
    """A parameter-free step of the engine's chain (it keeps the engine's transform numbering)."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind


class FactorOut(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner


class Level(nn.Module):
    """One scale: its transforms in the engine's order; returns the latent row (engine order) and log|det|."""

    def __init__(self, transforms):
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, x):
        ladj = torch.zeros(x.shape[0], dtype=x.dtype)
        factored = None
        for t in self.transforms:
            if isinstance(t, Marker) and t.kind == "squeeze":
                x = squeeze(x)
            elif isinstance(t, Marker) and t.kind == "split":
                kept = x.shape[1] - x.shape[1] // 2
                x, factored = x[:, :kept], x[:, kept:]
            elif isinstance(t, FactorOut):
                z, inner_ladj = t.inner(x)
                return torch.cat([z, channels_last(factored)], dim=1), ladj + inner_ladj
            else:
                x, l = t(x)
                ladj = ladj + l
        return channels_last(x), ladj


class ValueActNorm(nn.Module):
    """y = (x + shift) * exp(log_scale) per value (the engine's ActNorm over all C*H*W features)."""

    def __init__(self, shape):
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(shape))
        self.log_scale = nn.Parameter(torch.zeros(shape))

    def forward(self, x):
        return (x + self.shift) * torch.exp(self.log_scale), self.log_scale.sum().expand(x.shape[0])


class ImageFlow(nn.Module):
    """transforms.0 channels-last, .1 division by the pixel range, .2 logit, .3 level 0."""

    def __init__(self, shape, pixel_range, alpha, level0, input_norm=False, input_norm_floor=0.2):
        super().__init__()
        self.shape, self.pixel_range, self.alpha = shape, pixel_range, alpha
        # The engine's "inputNormFloor": the input ActNorm's smallest fitted std, as a fraction of the pooled std.
        self.input_norm_floor = input_norm_floor
        parts = [Marker("channels-last"), Marker("scale"), Marker("logit")]
        # The engine's "inputNorm": a per-value ActNorm after the logit (transforms.3), the levels then at .4.
        self.input_norm = ValueActNorm(shape) if input_norm else None
        if input_norm:
            parts.append(self.input_norm)
        self.transforms = nn.ModuleList(parts + [level0])

    def logit(self, rows):
        c, h, w = self.shape
        d = c * h * w
        x = rows.view(-1, c, h, w) / self.pixel_range
        s = self.alpha + (1 - 2 * self.alpha) * x
        ladj = -d * math.log(self.pixel_range) + (math.log(1 - 2 * self.alpha) - torch.log(s) - torch.log1p(-s)).sum(dim=(1, 2, 3))
        return torch.log(s) - torch.log1p(-s), ladj

    @torch.no_grad()
    def initialize_from_data(self, rows):
        """The engine's data-dependent start: the input ActNorm standardizes these (dequantized) rows per value, but
        divides by no less than input_norm_floor times the std of all their values pooled: an almost-always-empty
        pixel (std 0.02 in logit units) is not stretched 50x, so a rare image with ink there stays near the data."""
        if self.input_norm is not None:
            y, _ = self.logit(rows)
            mean, std = y.mean(dim=0), y.std(dim=0, unbiased=False)
            std = torch.where(std > 0, std, torch.ones_like(std))
            std = torch.maximum(std, self.input_norm_floor * y.double().std(unbiased=False).to(y.dtype))
            self.input_norm.shift.copy_(-mean)
            self.input_norm.log_scale.copy_(-torch.log(std))

    def forward(self, rows):
        y, ladj = self.logit(rows)
        if self.input_norm is not None:
            y, norm_ladj = self.input_norm(y)
            ladj = ladj + norm_ladj
        z, level_ladj = self.transforms[-1](y)
        return z, ladj + level_ladj

    def log_prob(self, rows):
        z, ladj = self(rows)
        return -0.5 * (z * z).sum(dim=1) - 0.5 * z.shape[1] * math.log(2 * math.pi) + ladj


def realnvp_level(channels, levels, steps, leaf, hidden, blocks, activation, level=0):
    def coupling(ch, mask, flip):
        return ImageCoupling(ch, mask, flip, leaf, hidden, blocks, activation)
    last = level == levels - 1
    transforms = [coupling(channels, "checkerboard", i % 2 == 1) for i in range(steps + 1 if last else steps)]
    if not last:
        transforms.append(Marker("squeeze"))
        transforms += [coupling(4 * channels, "channel", i % 2 == 1) for i in range(steps)]
        transforms.append(Marker("split"))
        transforms.append(FactorOut(realnvp_level(4 * channels - 2 * channels, levels, steps, leaf, hidden, blocks, activation, level + 1)))
    return Level(transforms)


def glow_level(channels, levels, steps, hidden, blocks, activation, next_permutation, level=0):
    c = 4 * channels
    transforms = [Marker("squeeze")]
    for _ in range(steps):
        transforms += [ChannelActNorm(c), InvertibleConv1x1(c, next_permutation(c)),
                       ImageCoupling(c, "channel", False, "affine", hidden, blocks, activation)]
    if level < levels - 1:
        transforms.append(Marker("split"))
        transforms.append(FactorOut(glow_level(c - c // 2, levels, steps, hidden, blocks, activation, next_permutation, level + 1)))
    return Level(transforms)


def engine_tensor(name, tensor):
    """A parameter (or its gradient) in the engine's layout: conv weights [out, kh*kw*in]."""
    if tensor.dim() == 4:
        return tensor.permute(0, 2, 3, 1).reshape(tensor.shape[0], -1)
    return tensor
