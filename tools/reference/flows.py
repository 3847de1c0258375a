"""PyTorch reference implementations of the flows in docs/ENGINE.md.

Every module follows the engine's contract exactly, so that a C# flow built from the same spec
and loaded with these weights (by name) computes the same numbers:
  * Forward maps data x -> latent z and returns log|det dz/dx| per row;
    log p(x) = log N(z; 0, I) + sum of log|det J|.
  * state_dict keys are the C# parameter names: "transforms.{i}." + the transform's own names,
    where i counts every transform of the chain (parameter-free permutations included).
  * nn.Linear weights are [out, in] and y = x W^T + b. An MLP's Linears are "net.{j}" with j
    counting Linears only (0, 1, 2, ...), so the activations are applied by hand, not through
    nn.Sequential (whose indices would count them too).
  * Conditioners see [x[:, identity] | context] (context columns last) and emit leaf parameters
    grouped by kind: affine [shift(d) | rawScale(d)], spline [widths(d*K) | heights(d*K) |
    derivatives(d*(K-1))], kind-major, then feature, then bin.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "elu": F.elu, "gelu": F.gelu, "silu": F.silu}


class Mlp(nn.Module):
    """Linear -> activation -> ... -> Linear, the Linears named net.0, net.1, ..."""

    def __init__(self, sizes, activation="relu", masks=None):
        super().__init__()
        self.net = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = ACTIVATIONS[activation]
        # MADE masks are buffers rebuilt from the spec, never parameters (not in state_dict).
        self.masks = masks

    def forward(self, h):
        last = len(self.net) - 1
        for j, linear in enumerate(self.net):
            weight = linear.weight if self.masks is None else linear.weight * self.masks[j]
            h = F.linear(h, weight, linear.bias)
            if j < last:
                h = self.activation(h)
        return h


class GatedSelfAttention(nn.Module):
    """Multi-head gated self-attention over m scalar inputs as m tokens: e_i = h_i * scale_i + shift_i (E each),
    Q, K, V = linear(E), per head softmax(Q K^T / sqrt(E / heads)) V, heads concatenated, O = output(A), and the gated
    residual R = E + sigmoid(gate(E)) * O, flattened token-major. Parameters embed.scale, embed.shift [m, E];
    query, key, value, output, gate: nn.Linear(E, E)."""

    def __init__(self, tokens, embedding, heads):
        super().__init__()
        self.embed = nn.Module()
        self.embed.scale = nn.Parameter(torch.zeros(tokens, embedding))
        self.embed.shift = nn.Parameter(torch.zeros(tokens, embedding))
        self.query, self.key, self.value, self.output, self.gate = (nn.Linear(embedding, embedding) for _ in range(5))
        self.heads = heads

    def forward(self, h):
        n, m = h.shape
        e = h.unsqueeze(2) * self.embed.scale + self.embed.shift
        heads, dh = self.heads, e.shape[2] // self.heads

        def split(t):
            return t.reshape(n, m, heads, dh).transpose(1, 2)

        q, k, v = split(self.query(e)), split(self.key(e)), split(self.value(e))
        weights = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(dh), dim=3)
        attended = (weights @ v).transpose(1, 2).reshape(n, m, heads * dh)
        r = e + torch.sigmoid(self.gate(e)) * self.output(attended)
        return r.reshape(n, m * heads * dh)


class AttentionConditioner(Mlp):
    """GatedSelfAttention, then the MLP head (named net.0, net.1, ... as Mlp's, so parameter names match the C# ones)."""

    def __init__(self, inputs, embedding, heads, hidden, outputs, activation="relu"):
        super().__init__([inputs * embedding, *hidden, outputs], activation)
        self.attention = GatedSelfAttention(inputs, embedding, heads)

    def forward(self, h):
        return super().forward(self.attention(h))


# ---- leaves: element-wise bijections y = g(x; params), params grouped by kind --------------

class AdditiveLeaf:
    """y = x + shift (NICE). Parameters per feature: [shift]."""

    def __init__(self):
        self.params_per_feature = 1

    def output_features(self, d):
        return torch.arange(d)

    def forward(self, x, p):
        return x + p, torch.zeros(x.shape[0], dtype=x.dtype)


class AffineLeaf:
    """y = x * exp(s) + shift with s = c * tanh(raw / c) (soft clamp, c = scaleClamp).
    Parameters: [shift(d) | rawScale(d)]."""

    def __init__(self, scale_clamp=3.0):
        self.params_per_feature = 2
        self.scale_clamp = scale_clamp

    def output_features(self, d):
        return torch.arange(d).repeat(2)

    def forward(self, x, p):
        d = x.shape[1]
        shift, raw = p[:, :d], p[:, d:2 * d]
        c = self.scale_clamp
        s = c * torch.tanh(raw / c)
        return x * torch.exp(s) + shift, s.sum(dim=1)


class SplineLeaf:
    """Monotonic rational-quadratic spline (Durkan et al. 2019, "Neural Spline Flows") with K bins
    on [-B, B] and identity (linear) tails outside. Bin widths and heights are softmax-ed with a
    minimum fraction 1e-3 of the interval; interior knot derivatives are
    1e-3 + softplus(raw + c), c = log(e^(1 - 1e-3) - 1), so raw = 0 gives derivative 1;
    the two boundary derivatives are 1 so the spline joins the identity tails smoothly.
    Parameters: [widths(d*K) | heights(d*K) | derivatives(d*(K-1))]."""

    MIN_BIN = 1e-3
    MIN_DERIVATIVE = 1e-3
    # softplus(u + c) + 1e-3 = 1 at u = 0: all-zero parameters make the spline the identity.
    DERIVATIVE_SHIFT = math.log(math.exp(1 - MIN_DERIVATIVE) - 1)

    def __init__(self, bins=8, tail_bound=3.0):
        self.bins = bins
        self.tail_bound = tail_bound
        self.params_per_feature = 3 * bins - 1

    def output_features(self, d):
        K = self.bins
        f = torch.arange(d)
        return torch.cat([f.repeat_interleave(K), f.repeat_interleave(K), f.repeat_interleave(K - 1)])

    def _knots(self, raw, n, d):
        """Knot positions (n, d, K+1) on [-B, B] and bin sizes (n, d, K) from raw widths/heights."""
        K, B = self.bins, self.tail_bound
        fractions = self.MIN_BIN + (1 - self.MIN_BIN * K) * torch.softmax(raw.reshape(n, d, K), dim=-1)
        cum = torch.cumsum(fractions, dim=-1)
        knots = torch.cat([torch.full((n, d, 1), -B, dtype=raw.dtype), -B + 2 * B * cum], dim=-1)
        knots = torch.cat([knots[..., :1], knots[..., 1:-1], torch.full((n, d, 1), B, dtype=raw.dtype)], dim=-1)
        return knots, knots[..., 1:] - knots[..., :-1]

    def forward(self, x, p):
        n, d = x.shape
        K, B = self.bins, self.tail_bound
        raw_w = p[:, :d * K]
        raw_h = p[:, d * K:2 * d * K]
        raw_d = p[:, 2 * d * K:2 * d * K + d * (K - 1)].reshape(n, d, K - 1)
        xs, widths = self._knots(raw_w, n, d)
        ys, heights = self._knots(raw_h, n, d)
        ones = torch.ones(n, d, 1, dtype=x.dtype)
        derivs = torch.cat([ones, self.MIN_DERIVATIVE + F.softplus(raw_d + self.DERIVATIVE_SHIFT), ones], dim=-1)

        inside = (x >= -B) & (x <= B)
        xc = x.clamp(-B, B)
        # Bin k holds xs[k] <= x < xs[k+1]; the last bin also takes x == B.
        k = (torch.searchsorted(xs[..., 1:-1].contiguous(), xc.unsqueeze(-1), right=True)).squeeze(-1)
        k = k.clamp(0, K - 1).unsqueeze(-1)
        xk = xs.gather(-1, k).squeeze(-1)
        yk = ys.gather(-1, k).squeeze(-1)
        wk = widths.gather(-1, k).squeeze(-1)
        hk = heights.gather(-1, k).squeeze(-1)
        dk = derivs.gather(-1, k).squeeze(-1)
        dk1 = derivs.gather(-1, k + 1).squeeze(-1)

        theta = (xc - xk) / wk
        slope = hk / wk
        t1mt = theta * (1 - theta)
        denominator = slope + (dk + dk1 - 2 * slope) * t1mt
        y_in = yk + hk * (slope * theta * theta + dk * t1mt) / denominator
        dnum = slope * slope * (dk1 * theta * theta + 2 * slope * t1mt + dk * (1 - theta) ** 2)
        ladj_in = torch.log(dnum) - 2 * torch.log(denominator)
        y = torch.where(inside, y_in, x)
        ladj = torch.where(inside, ladj_in, torch.zeros_like(x))
        return y, ladj.sum(dim=1)


# ---- structural transforms ----------------------------------------------------------------

class LogisticMixtureLeaf:
    """Flow++'s logistic-mixture CDF coupling (Ho et al. 2019): y = logit(sum_k pi_k sigmoid((x - mu_k) / s_k)) * exp(a) + b
    with pi = softmax(logits), s_k = exp(max(logScale_k, -7)), a = c * tanh(rawA / c).
    Parameters (kind-major, then feature, then component): [rawA(d) | b(d) | logits(d*K) | means(d*K) | logScales(d*K)].
    log|dy/dx| = a + log C'(x) - log C - log(1 - C), with C' = sum_k pi_k sigmoid'(z_k) / s_k."""

    def __init__(self, components=4, scale_clamp=3.0):
        self.components = components
        self.scale_clamp = scale_clamp
        self.params_per_feature = 2 + 3 * components

    def forward(self, x, p):
        n, d = x.shape
        k = self.components
        raw_a, b = p[:, :d], p[:, d:2 * d]
        logits = p[:, 2 * d:2 * d + d * k].reshape(n, d, k)
        means = p[:, 2 * d + d * k:2 * d + 2 * d * k].reshape(n, d, k)
        log_scales = p[:, 2 * d + 2 * d * k:].reshape(n, d, k).clamp(min=-7.0)
        log_pi = torch.log_softmax(logits, dim=2)
        z = (x.unsqueeze(2) - means) * torch.exp(-log_scales)
        log_c = torch.logsumexp(log_pi + torch.nn.functional.logsigmoid(z), dim=2)
        log_c_bar = torch.logsumexp(log_pi + torch.nn.functional.logsigmoid(-z), dim=2)
        log_density = torch.logsumexp(log_pi + torch.nn.functional.logsigmoid(z) + torch.nn.functional.logsigmoid(-z) - log_scales, dim=2)
        a = self.scale_clamp * torch.tanh(raw_a / self.scale_clamp)
        y = (log_c - log_c_bar) * torch.exp(a) + b
        return y, (a + log_density - log_c - log_c_bar).sum(dim=1)


def _columns(x, index):
    """x[:, index] as a cheap slice when the index is a contiguous run (the benchmarks' case)."""
    if index == list(range(index[0], index[0] + len(index))):
        return x[:, index[0]:index[0] + len(index)]
    return x[:, index]


class Coupling(nn.Module):
    """y[:, identity] = x[:, identity]; y[:, transformed] = leaf(x[:, transformed];
    conditioner([x[:, identity] | context]))."""

    def __init__(self, identity, transformed, leaf, hidden, context=0, activation="relu", attention=None):
        super().__init__()
        self.identity = list(identity)
        self.transformed = list(transformed)
        self.leaf = leaf
        out = leaf.params_per_feature * len(self.transformed)
        if attention is None:
            self.conditioner = Mlp([len(self.identity) + context, *hidden, out], activation)
        else:  # attention = (embedding, heads)
            self.conditioner = AttentionConditioner(len(self.identity) + context, attention[0], attention[1], hidden, out, activation)

    def forward(self, x, context):
        x_id, x_t = _columns(x, self.identity), _columns(x, self.transformed)
        h = x_id if context is None else torch.cat([x_id, context], dim=1)
        y_t, ladj = self.leaf.forward(x_t, self.conditioner(h))
        d = x.shape[1]
        if self.identity + self.transformed == list(range(d)):
            return torch.cat([x_id, y_t], dim=1), ladj
        if self.transformed + self.identity == list(range(d)):
            return torch.cat([y_t, x_id], dim=1), ladj
        y = x.clone()
        y[:, self.transformed] = y_t
        return y, ladj


def made_masks(features, hidden, context, output_features):
    """Masks of a MADE (Germain et al. 2015) in natural order: input i (0-based) has degree
    i + 1, hidden unit k of every layer has degree (k mod max(1, D-1)) + 1, context inputs have
    degree 0 (seen by every hidden unit). With context, hidden degrees cycle through 0..D-1
    instead (k mod D): degree-0 units see only the context and carry it to feature 0's outputs
    (as zuko's masked MLP does), which nflows' degrees would leave constant. A hidden unit of
    degree m sees inputs of degree <= m; an output of feature i (any parameter kind;
    `output_features` names the feature of every output in the leaf's kind-major layout) sees
    hidden units of degree < i + 1, so output i depends on x_0 .. x_{i-1} only."""
    D = features
    in_deg = torch.cat([torch.arange(1, D + 1), torch.zeros(context, dtype=torch.long)])
    masks = []
    prev = in_deg
    for h in hidden:
        deg = torch.arange(h) % D if context else torch.arange(h) % max(1, D - 1) + min(1, D - 1)
        masks.append((deg[:, None] >= prev[None, :]).to(torch.get_default_dtype()))
        prev = deg
    out_deg = output_features + 1
    masks.append((out_deg[:, None] > prev[None, :]).to(torch.get_default_dtype()))
    return masks


class Autoregressive(nn.Module):
    """Masked autoregressive transform (MAF, Papamakarios et al. 2017): one MADE pass over
    [x | context] gives each feature's leaf parameters from the features before it."""

    def __init__(self, features, leaf, hidden, context=0, activation="relu"):
        super().__init__()
        self.leaf = leaf
        sizes = [features + context, *hidden, leaf.params_per_feature * features]
        self.conditioner = Mlp(sizes, activation, made_masks(features, hidden, context, leaf.output_features(features)))

    def forward(self, x, context):
        h = x if context is None else torch.cat([x, context], dim=1)
        return self.leaf.forward(x, self.conditioner(h))


class Permutation(nn.Module):
    """y[:, i] = x[:, perm[i]]; no parameters, log|det| = 0."""

    def __init__(self, perm):
        super().__init__()
        self.perm = list(perm)

    def forward(self, x, context):
        return x[:, self.perm], torch.zeros(x.shape[0], dtype=x.dtype)


class ActNorm(nn.Module):
    """y = (x + shift) * exp(logScale) (Glow, Kingma & Dhariwal 2018); parameters 1 x D."""

    def __init__(self, features):
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(1, features))
        self.logScale = nn.Parameter(torch.zeros(1, features))

    def forward(self, x, context):
        return (x + self.shift) * torch.exp(self.logScale), self.logScale.sum().expand(x.shape[0])


class DiagonalScaling(nn.Module):
    """y = x * exp(logScale), the last layer of NICE (Dinh et al. 2014, section 3.3); parameter 1 x D."""

    def __init__(self, features):
        super().__init__()
        self.logScale = nn.Parameter(torch.zeros(1, features))

    def forward(self, x, context):
        return x * torch.exp(self.logScale), self.logScale.sum().expand(x.shape[0])


class LuLinear(nn.Module):
    """y = x W^T with W = P L (U + diag(exp(logScale))): L unit lower triangular from the
    strictly lower part of `lower`, U strictly upper from `upper`, P a fixed permutation matrix
    with P[i, perm[i]] = 1. log|det W| = sum(logScale)."""

    def __init__(self, features, perm):
        super().__init__()
        self.lower = nn.Parameter(torch.zeros(features, features))
        self.upper = nn.Parameter(torch.zeros(features, features))
        self.logScale = nn.Parameter(torch.zeros(1, features))
        self.perm = list(perm)

    def weight(self):
        D = self.lower.shape[0]
        eye = torch.eye(D, dtype=self.lower.dtype)
        L = torch.tril(self.lower, -1) + eye
        U = torch.triu(self.upper, 1) + torch.diag(torch.exp(self.logScale[0]))
        P = eye[self.perm]
        return P @ L @ U

    def forward(self, x, context):
        return x @ self.weight().T, self.logScale.sum().expand(x.shape[0])


class Flow(nn.Module):
    """A chain of transforms with a standard-normal base: log p(x) = log N(f(x)) + sum log|det J|."""

    def __init__(self, transforms):
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, x, context=None):
        ladj = torch.zeros(x.shape[0], dtype=x.dtype)
        z = x
        for t in self.transforms:
            z, l = t(z, context)
            ladj = ladj + l
        return z, ladj

    def log_prob(self, x, context=None):
        z, ladj = self(x, context)
        base = -0.5 * (z * z).sum(dim=1) - 0.5 * z.shape[1] * math.log(2 * math.pi)
        return base + ladj
