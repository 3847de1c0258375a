"""Writes the PyTorch parity fixtures that tests/FlowService.Model.Tests/Parity and
tests/FlowService.Training.Tests replay (llm.c style).

Regenerate (Debian's PyTorch 1.13 CPU and python3-numpy; CI never runs this, the fixtures are
committed):
    /usr/bin/python3 tools/reference/make_fixtures.py [--out tests/FlowService.Model.Tests/Fixtures] [--only flowpp,...]

For each flow type (and its conditional variant) it builds the architecture of docs/ENGINE.md
from a small spec (D = 6, hidden [16, 16], 3 layers, batch 7), draws seeded weights (the last
conditioner layer is NOT zero, so no transform is the identity), and writes one safetensors file:
  <parameter name>            the weights, names = the C# parameter names (float32)
  x, context                  the batch (context only for conditional flows)
  log_prob                    log p(x) per row
  grad.x                      dL/dx for L = -mean(log p(x))
  grad.<parameter name>       dL/dθ for every parameter
  adam.losses, adamw.losses   L before each of 20 steps on the fixed batch and after the last
                              (21 values): Adam lr 1e-2, and AdamW lr 1e-2 weight decay 0.1
                              (lr 3e-3 for the spline flows, see SPLINE_LR).
  adam.losses_float32, ...    the same replays run by PyTorch in float32: how much rounding
                              alone moves the trajectory. Seeds are taken (deterministically)
                              where that stays within 3e-6 relative ("float32Noise"); the C#
                              replay must stay within max(1e-4, 5x PyTorch's float32 deviation).
Everything is computed in float64 from the float32-rounded weights and inputs, then stored as
float32, so the fixture is the exact answer for the stored numbers, not PyTorch's rounding.
Metadata (strings): the flow spec JSON the C# side builds the flow from, the shapes, the
optimizer settings, and a readable description of the chain. "seed" seeds the weights and the
batch, and is the engine seed the C# flow is built with: Glow's fixed LU permutations are drawn
as the engine's recipe draws them from it (dotnet_random.py), and listed in "luPermutations".
"""
import argparse
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dotnet_random  # noqa: E402
import flows  # noqa: E402
import safetensors_io  # noqa: E402

FEATURES = 6
CONTEXT = 2
BATCH = 7
HIDDEN = [16, 16]
ACTIVATION = "relu"
LAYERS = 3
BINS = 5
TAIL_BOUND = 3.0
SCALE_CLAMP = 3.0
COMPONENTS = 4
ADAM_STEPS = 20
LR = 1e-2
# At 1e-2 the spline flows overfit the 7 rows so sharply that PyTorch's own float32 replay strays
# 1e-4..1e-3 from the float64 one by step 20 (the difference grows ~1.5x per step); at 3e-3 it
# stays near 3e-7, so their replay checks the arithmetic rather than the chaos.
SPLINE_LR = 3e-3
BETAS = (0.9, 0.999)
EPS = 1e-8
WEIGHT_DECAY = 0.1
MAX_FLOAT32_NOISE = 3e-6


def halves(i, d):
    """Alternating halves: even couplings keep the first floor(d/2) features, odd ones the rest."""
    first, second = list(range(d // 2)), list(range(d // 2, d))
    return (first, second) if i % 2 == 0 else (second, first)


def reverse(d):
    return list(range(d - 1, -1, -1))


def coupling_chain(leaf, context):
    return [flows.Coupling(*halves(i, FEATURES), leaf, HIDDEN, context, ACTIVATION) for i in range(LAYERS)]


def nice_chain(context):
    """Additive couplings, then NICE's diagonal scaling (section 3.3 of the paper)."""
    return coupling_chain(flows.AdditiveLeaf(), context) + [flows.DiagonalScaling(FEATURES)]


def autoregressive_chain(leaf, context):
    chain = []
    for i in range(LAYERS):
        if i > 0:
            chain.append(flows.Permutation(reverse(FEATURES)))
        chain.append(flows.Autoregressive(FEATURES, leaf, HIDDEN, context, ACTIVATION))
    return chain


def glow_chain(context, engine_random):
    """The LU layers' fixed permutations are drawn as the engine's Glow recipe draws them from the
    fixture's seed, so the C# flow built from the spec with that seed holds the same ones."""
    chain = []
    for _ in range(LAYERS):
        perm = dotnet_random.permutation(FEATURES, engine_random)
        chain += [flows.ActNorm(FEATURES), flows.LuLinear(FEATURES, perm),
                  flows.Coupling(*halves(0, FEATURES), flows.AffineLeaf(SCALE_CLAMP), HIDDEN, context, ACTIVATION)]
    return chain


def recipes():
    """name -> (spec without contextFeatures, chain builder(context, engine_random))."""
    base = {"layers": LAYERS, "hidden": HIDDEN, "activation": ACTIVATION}
    return {
        "nice": ({"type": "nice", **base}, lambda c, g: nice_chain(c)),
        "realnvp": ({"type": "realnvp", **base, "scaleClamp": SCALE_CLAMP},
                    lambda c, g: coupling_chain(flows.AffineLeaf(SCALE_CLAMP), c)),
        "glow": ({"type": "glow", **base, "scaleClamp": SCALE_CLAMP}, glow_chain),
        "maf": ({"type": "maf", **base, "scaleClamp": SCALE_CLAMP},
                lambda c, g: autoregressive_chain(flows.AffineLeaf(SCALE_CLAMP), c)),
        "nsf": ({"type": "nsf", **base, "bins": BINS, "tailBound": TAIL_BOUND},
                lambda c, g: coupling_chain(flows.SplineLeaf(BINS, TAIL_BOUND), c)),
        "nsf_ar": ({"type": "nsf", **base, "bins": BINS, "tailBound": TAIL_BOUND, "variant": "autoregressive"},
                   lambda c, g: autoregressive_chain(flows.SplineLeaf(BINS, TAIL_BOUND), c)),
        "flowpp": ({"type": "flowpp", **base, "components": COMPONENTS, "scaleClamp": SCALE_CLAMP},
                   lambda c, g: coupling_chain(flows.LogisticMixtureLeaf(COMPONENTS, SCALE_CLAMP), c)),
        "realnvp_attention": ({"type": "realnvp", **base, "scaleClamp": SCALE_CLAMP, "conditioner": "attention", "heads": 2, "embedding": 4},
                              lambda c, g: [flows.Coupling(*halves(i, FEATURES), flows.AffineLeaf(SCALE_CLAMP), HIDDEN, c, ACTIVATION, attention=(4, 2))
                                            for i in range(LAYERS)]),
    }


def init_weights(flow, generator):
    """Seeded, float32-representable weights. Linears: PyTorch's default U(-1/sqrt(fan_in), ..)
    for every layer, the last one included; ActNorm and LU parameters: small normals."""
    with torch.no_grad():
        for name, p in flow.named_parameters():
            if name.endswith(".weight") or name.endswith(".bias"):
                fan_in = p.shape[-1] if name.endswith(".weight") else flow.get_parameter(name[:-4] + "weight").shape[1]
                bound = 1.0 / np.sqrt(fan_in)
                p.copy_((torch.rand(p.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound)
            elif name.endswith("lower") or name.endswith("upper"):
                p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.3)
            else:
                p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.2)
            p.copy_(p.float().double())


def make_batch(generator, conditional):
    x = torch.randn(BATCH, FEATURES, generator=generator, dtype=torch.float64) * 1.3
    # A few entries beyond the spline's tail bound exercise the identity tails.
    x[0, 0], x[1, FEATURES - 1], x[2, 2] = 3.6, -4.2, -3.1
    x = x.float().double()
    context = torch.randn(BATCH, CONTEXT, generator=generator, dtype=torch.float64).float().double() if conditional else None
    return x, context


def nll(flow, x, context):
    return -flow.log_prob(x, context).mean()


def replay(flow, x, context, optimizer_factory, dtype=torch.float64):
    """Losses before each of ADAM_STEPS optimizer steps on a fixed batch, then after the last."""
    flow = copy.deepcopy(flow).to(dtype)
    for module in flow.modules():
        if isinstance(module, flows.Mlp) and module.masks is not None:
            module.masks = [m.to(dtype) for m in module.masks]
    x = x.to(dtype)
    context = None if context is None else context.to(dtype)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    optimizer = optimizer_factory(flow.parameters())
    losses = []
    for _ in range(ADAM_STEPS):
        optimizer.zero_grad()
        loss = nll(flow, x, context)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        losses.append(nll(flow, x, context).item())
    torch.set_default_dtype(default)
    return np.array(losses)


def float32_noise(losses32, reference):
    """How far PyTorch's own float32 replay strays from the float64 one (max relative). Adam
    amplifies rounding once a tiny batch is overfitted (the spline flows most: their sharpening
    bins grow a float32 difference ~1.5x per step), so a fixture is only useful when float32
    arithmetic can follow its trajectory; seeds are chosen to keep this below 3e-6."""
    return float(np.max(np.abs(losses32 - reference) / np.abs(reference)))


def describe(flow):
    parts = []
    for i, t in enumerate(flow.transforms):
        if isinstance(t, flows.Coupling):
            parts.append(f"{i}: Coupling({type(t.leaf).__name__}, identity={t.identity}, transformed={t.transformed})")
        elif isinstance(t, flows.Permutation):
            parts.append(f"{i}: Permutation({t.perm})")
        elif isinstance(t, flows.LuLinear):
            parts.append(f"{i}: LuLinear(perm={t.perm})")
        else:
            parts.append(f"{i}: {type(t).__name__}({type(getattr(t, 'leaf', None)).__name__})")
    return "; ".join(parts)


def verify(flow, x, context):
    """The reference checks itself before it writes anything: each row's log|det J| equals the
    slogdet of the autograd Jacobian, and every autoregressive layer's Jacobian is lower
    triangular (MADE masks leak nothing from later features)."""
    for r in range(x.shape[0]):
        ctx = None if context is None else context[r:r + 1]
        jac = torch.autograd.functional.jacobian(lambda v: flow(v[None], ctx)[0][0], x[r])
        ladj = flow(x[r:r + 1], ctx)[1][0]
        assert abs(torch.linalg.slogdet(jac)[1] - ladj) < 1e-10, "log|det J| disagrees with the Jacobian"
        for t in flow.transforms:
            if isinstance(t, flows.Autoregressive):
                jac = torch.autograd.functional.jacobian(lambda v: t(v[None], ctx)[0][0], x[r])
                assert jac.triu(1).abs().max() == 0, "MADE output depends on a later feature"


def make_fixture(name, spec, build, conditional, seed):
    """The fixture of the first seed from `seed` on whose float32 replays stay within
    MAX_FLOAT32_NOISE of the float64 ones (deterministic: same script, same files)."""
    for attempt in range(20):
        tensors, metadata = make_fixture_with_seed(spec, build, conditional, seed + 100 * attempt)
        if float(metadata["float32Noise"]) <= MAX_FLOAT32_NOISE:
            return tensors, metadata
    raise RuntimeError(f"{name}: no seed gives a float32-stable optimizer replay")


def make_fixture_with_seed(spec, build, conditional, seed):
    generator = torch.Generator().manual_seed(seed)
    context_features = CONTEXT if conditional else 0
    flow = flows.Flow(build(context_features if conditional else 0, dotnet_random.DotNetRandom(seed))).double()
    init_weights(flow, generator)
    x, context = make_batch(generator, conditional)
    verify(flow, x, context)

    x.requires_grad_(True)
    log_prob = flow.log_prob(x, context)
    loss = -log_prob.mean()
    loss.backward()

    tensors = {"x": x.detach().numpy().astype(np.float32),
               "log_prob": log_prob.detach().numpy().astype(np.float32).reshape(BATCH, 1),
               "grad.x": x.grad.numpy().astype(np.float32)}
    if context is not None:
        tensors["context"] = context.numpy().astype(np.float32)
    for pname, p in flow.named_parameters():
        tensors[pname] = p.detach().numpy().astype(np.float32)
        tensors["grad." + pname] = p.grad.numpy().astype(np.float32)

    x = x.detach()
    noise = 0.0
    lr = SPLINE_LR if spec["type"] == "nsf" else LR
    for key, factory in (("adam.losses", lambda ps: torch.optim.Adam(ps, lr=lr, betas=BETAS, eps=EPS)),
                         ("adamw.losses", lambda ps: torch.optim.AdamW(ps, lr=lr, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY))):
        losses = replay(flow, x, context, factory)
        losses32 = replay(flow, x, context, factory, torch.float32)
        noise = max(noise, float32_noise(losses32, losses))
        tensors[key] = losses.astype(np.float32)
        tensors[key.replace("losses", "losses_float32")] = losses32.astype(np.float32)

    full_spec = dict(spec, contextFeatures=context_features)
    metadata = {
        "spec": json.dumps(full_spec, separators=(",", ":")),
        "features": FEATURES, "contextFeatures": context_features, "batch": BATCH, "seed": seed,
        "loss": float(loss.item()),
        "float32Noise": "%.3g" % noise,
        "chain": describe(flow),
        "optimizer": json.dumps({"lr": lr, "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS,
                                 "steps": ADAM_STEPS, "adamwWeightDecay": WEIGHT_DECAY}),
        "generator": "tools/reference/make_fixtures.py (PyTorch %s, float64 compute, float32 storage)" % torch.__version__,
    }
    permutations = [t.perm for t in flow.transforms if isinstance(t, flows.LuLinear)]
    if permutations:
        metadata["luPermutations"] = json.dumps(permutations)
    return tensors, metadata


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    parser.add_argument("--out", default=os.path.join(root, "tests", "FlowService.Model.Tests", "Fixtures"))
    parser.add_argument("--only", default="", help="comma-separated recipe names (default: all); the others' files are left as they are")
    args = parser.parse_args()
    only = [name for name in args.only.split(",") if name]
    os.makedirs(args.out, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    for index, (name, (spec, build)) in enumerate(recipes().items()):
        if only and name not in only:
            continue
        for conditional in (False, True):
            file = name + ("_conditional" if conditional else "") + ".safetensors"
            tensors, metadata = make_fixture(name, spec, build, conditional, seed=1000 + 10 * index + conditional)
            path = os.path.join(args.out, file)
            safetensors_io.write(path, tensors, metadata)
            back, _ = safetensors_io.read(path)
            assert all(np.array_equal(back[k], v) for k, v in tensors.items())
            print(f"{file:32s} {os.path.getsize(path):6d} B  loss {metadata['loss']:.6f}  "
                  f"adam {tensors['adam.losses'][0]:.4f} -> {tensors['adam.losses'][-1]:.4f}  "
                  f"adamw -> {tensors['adamw.losses'][-1]:.4f}  seed {metadata['seed']}  f32 noise {metadata['float32Noise']}")


if __name__ == "__main__":
    main()
