"""Writes the PyTorch parity fixtures of the multi-scale image flows (tools/reference/image_flows.py)
that tests/FlowService.Model.Tests/Parity/ImageFlowParityTests.cs replays.

Regenerate (Debian's PyTorch 1.13 CPU and python3-numpy; CI never runs this, the fixtures are committed):
    /usr/bin/python3 tools/reference/make_image_fixtures.py [--out tests/FlowService.Model.Tests/Fixtures]

Each fixture is a whole 2-level flow on a batch of BATCH small images whose pixels are dequantized
values in (0, 256), with seeded non-zero weights everywhere (no coupling is the identity):
  <parameter name>         the weights in the engine's layout (conv weights [out, kh*kw*in])
  x                        the batch, rows of C*H*W values channels first
  z                        f(x), in the engine's latent order
  log_prob                 log p(x) per row (a density of the pixel values)
  grad.x, grad.<name>      dL/dx and dL/dθ for L = -mean(log p(x))
  permutation.<name>       each invertible 1x1 convolution's P (as floats), drawn like the engine's
                           System.Random(seed), so the replay also checks that the flows agree on P
Metadata: the spec, features, batch, the structural seed and a description of the chain. Everything
is computed in float64 from float32-rounded inputs and weights, then stored as float32.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import image_flows  # noqa: E402
import safetensors_io  # noqa: E402
from dotnet_random import DotnetRandom  # noqa: E402

BATCH = 3
STRUCTURE_SEED = 11
FIXTURES = {
    # name: (spec, weight seed)
    "image_realnvp": ({"type": "realnvp", "image": [2, 4, 4], "levels": 2, "steps": 2, "channels": 5, "blocks": 1}, 2001),
    "image_realnvp_additive": ({"type": "realnvp", "image": [1, 4, 4], "levels": 2, "steps": 1, "channels": 4, "blocks": 2,
                                "coupling": "additive", "activation": "elu"}, 2002),
    "image_glow": ({"type": "glow", "image": [2, 4, 4], "levels": 2, "steps": 2, "channels": 6, "blocks": 1,
                    "activation": "tanh"}, 2003),
}


def build(spec):
    c, h, w = spec["image"]
    levels, steps, hidden, blocks = spec["levels"], spec["steps"], spec["channels"], spec["blocks"]
    activation = spec.get("activation", "relu")
    if spec["type"] == "realnvp":
        level0 = image_flows.realnvp_level(c, levels, steps, spec.get("coupling", "affine"), hidden, blocks, activation)
    else:
        random = DotnetRandom(STRUCTURE_SEED)
        level0 = image_flows.glow_level(c, levels, steps, hidden, blocks, activation, random.permutation)
    return image_flows.ImageFlow((c, h, w), 256.0, 0.05, level0)


def init_weights(flow, generator):
    """Conv layers: PyTorch's default U(-1/sqrt(fan_in), ..), the last ones included; ActNorm and
    LU parameters: small normals. All float32-representable."""
    with torch.no_grad():
        for name, p in flow.named_parameters():
            if name.endswith(".weight") or name.endswith(".bias"):
                weight = flow.get_parameter(name[:-len("bias")] + "weight") if name.endswith(".bias") else p
                bound = 1.0 / np.sqrt(weight[0].numel())
                p.copy_((torch.rand(p.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound)
            else:
                p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * (0.3 if name.endswith(("lower", "upper")) else 0.2))
            p.copy_(p.float().double())


def verify(flow, x):
    """The reference checks itself: each row's log|det J| is the slogdet of the autograd Jacobian."""
    for r in range(x.shape[0]):
        jacobian = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], x[r])
        assert abs(torch.linalg.slogdet(jacobian)[1] - flow(x[r:r + 1])[1][0]) < 1e-9, "log|det J| disagrees with the Jacobian"


def make_fixture(spec, seed):
    torch.set_default_dtype(torch.float64)
    generator = torch.Generator().manual_seed(seed)
    flow = build(spec).double()
    init_weights(flow, generator)
    d = int(np.prod(spec["image"]))
    pixels = torch.randint(0, 256, (BATCH, d), generator=generator).double()
    x = (pixels + torch.rand(BATCH, d, generator=generator, dtype=torch.float64)).float().double()
    verify(flow, x)
    x.requires_grad_(True)
    z, _ = flow(x)
    log_prob = flow.log_prob(x)
    loss = -log_prob.mean()
    loss.backward()
    tensors = {"x": x.detach().numpy().astype(np.float32), "z": z.detach().numpy().astype(np.float32),
               "log_prob": log_prob.detach().numpy().astype(np.float32).reshape(BATCH, 1),
               "grad.x": x.grad.numpy().astype(np.float32)}
    for name, p in flow.named_parameters():
        tensors[name] = image_flows.engine_tensor(name, p.detach()).numpy().astype(np.float32)
        tensors["grad." + name] = image_flows.engine_tensor(name, p.grad).numpy().astype(np.float32)
    chain = []
    for name, module in flow.named_modules():
        if isinstance(module, image_flows.InvertibleConv1x1):
            tensors["permutation." + name] = np.array(module.perm, dtype=np.float32)
        if isinstance(module, (image_flows.ImageCoupling, image_flows.ChannelActNorm, image_flows.InvertibleConv1x1, image_flows.Marker)):
            extra = f"({module.mask}, flip={module.flip}, {module.leaf})" if isinstance(module, image_flows.ImageCoupling) else ""
            chain.append(f"{name}: {getattr(module, 'kind', type(module).__name__)}{extra}")
    metadata = {"spec": json.dumps(spec, separators=(",", ":")), "features": d, "batch": BATCH,
                "structureSeed": STRUCTURE_SEED, "weightSeed": seed, "loss": float(loss.item()), "chain": "; ".join(chain),
                "generator": "tools/reference/make_image_fixtures.py (PyTorch %s, float64 compute, float32 storage)" % torch.__version__}
    return tensors, metadata


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    parser.add_argument("--out", default=os.path.join(root, "tests", "FlowService.Model.Tests", "Fixtures"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, (spec, seed) in FIXTURES.items():
        tensors, metadata = make_fixture(spec, seed)
        path = os.path.join(args.out, name + ".safetensors")
        safetensors_io.write(path, tensors, metadata)
        print(f"{name + '.safetensors':32s} {os.path.getsize(path):6d} B  loss {metadata['loss']:.6f}")


if __name__ == "__main__":
    main()
