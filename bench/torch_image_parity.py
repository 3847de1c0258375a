"""Replays the engine's first training steps of the Fashion-MNIST RealNVP in PyTorch 1.13 and says where the two
part: `FlowService.Bench image-parity` writes the engine's initial weights, the rows its input ActNorm started
from, every dequantized batch it trained on, its loss, gradient norm and clip factor per step, its whole first
gradient and its weights after some steps; this script starts bench/torch_images.py's model
(tools/reference/image_flows.py) from the same weights, feeds it the same batches with torch_images.py's own step
(mean NLL, clip_grad_norm_ 5, torch.optim.Adam), and prints per step and per parameter how far apart they are.

    dotnet bench/FlowService.Bench/bin/Release/net10.0/FlowService.Bench.dll image-parity --steps 20 --out bench/out/image-parity.safetensors
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_image_parity.py bench/out/image-parity.safetensors [--double]

Also compares torch_images.py's own starting point with the engine's: the input ActNorm fitted by
ImageFlow.initialize_from_data on the same rows, and the spread of nn.Conv2d's default initial weights against
the engine's, layer by layer (the values differ by seed; their scale must not).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import image_flows  # noqa: E402
import safetensors_io  # noqa: E402
import torch_images  # noqa: E402


def engine_name(name):
    """The engine's parameter name of a torch parameter (the input ActNorm is the engine's transforms.3)."""
    return name.replace("input_norm.log_scale", "transforms.3.logScale").replace("input_norm.shift", "transforms.3.shift")


def to_torch(p, values):
    """An engine tensor (conv weights [out, kh*kw*in] in (kh, kw, in) order) in p's shape."""
    t = torch.from_numpy(np.array(values, dtype=np.float64))
    if p.dim() == 4:
        out, cin, kh, kw = p.shape
        return t.reshape(out, kh, kw, cin).permute(0, 3, 1, 2).contiguous()
    return t.reshape(p.shape)


def build(spec, dtype):
    shape = tuple(spec["image"])
    level0 = image_flows.realnvp_level(shape[0], spec["levels"], spec["steps"], "affine", spec["channels"], spec["blocks"], "relu")
    return image_flows.ImageFlow(shape, 256.0, 0.05, level0, input_norm=spec.get("inputNorm", False),
                                input_norm_floor=spec.get("inputNormFloor", 0.2)).to(dtype)


def load(flow, tensors, prefix):
    with torch.no_grad():
        for name, p in flow.named_parameters():
            p.copy_(to_torch(p, tensors[prefix + engine_name(name)]))


def difference(a, b):
    b = np.asarray(b, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64).reshape(b.shape)
    scale = max(np.abs(b).max(), 1e-30)
    return np.abs(a - b).max(), np.abs(a - b).max() / scale


def rate_at(metadata, step):
    """The learning rate of 0-based step `step` as the export trained (FlowTrainer.Schedule over one epoch of its steps):
    constant, or with "schedule" cosine a linear warm-up then cosine decay to 1% of the rate; files written before the
    schedule was recorded are constant."""
    lr, steps = float(metadata["lr"]), int(metadata["steps"])
    schedule, warmup = metadata.get("schedule", "constant"), int(metadata.get("warmup", "0"))
    if schedule in ("constant", "step"):
        # (the export trains one epoch, so a step schedule never steps)
        return lr * (step + 1) / warmup if step < warmup else lr
    warmup = min(warmup, steps - 1)
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / (steps - warmup))
    minimum = lr * 0.01
    return minimum + 0.5 * (lr - minimum) * (1 + math.cos(math.pi * progress))


def set_rate(optimizer, rate):
    for group in optimizer.param_groups:
        group["lr"] = rate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--double", action="store_true", help="run PyTorch in float64 (the engine stays float32)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--show", type=int, default=8, help="parameters listed per comparison (the farthest apart first)")
    parser.add_argument("--train-all", action="store_true",
                        help="no comparison: train every step, then print test bits/dim, with --init and --batches each from the engine or torch_images.py")
    parser.add_argument("--init", choices=["engine", "torch", "engine-final"], default="engine",
                        help="engine-final: no training, the engine's own weights after the last step (its result, scored the same way)")
    parser.add_argument("--batches", choices=["engine", "torch"], default="engine")
    parser.add_argument("--test", type=int, default=5000)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--per-image", metavar="FILE.npy",
                        help="with --train-all: also save each test image's bits/dim (bench/image_test_tails.py reads them)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tensors, metadata = safetensors_io.read(args.file)
    spec = json.loads(metadata["spec"])
    steps, lr = int(metadata["steps"]), float(metadata["lr"])
    dtype = torch.float64 if args.double else torch.float32
    flow = build(spec, dtype)
    d = int(np.prod(spec["image"]))

    if args.train_all:
        return train_all(args, tensors, metadata, spec, dtype)
    print("== starting point: torch_images.py's own against the engine's")
    torch.manual_seed(int(metadata["seed"]))
    fresh = build(spec, torch.float32)
    fresh.initialize_from_data(torch.from_numpy(tensors["init_rows"].copy()))
    for name in ["input_norm.shift", "input_norm.log_scale"]:
        ours = fresh.get_parameter(name).detach().numpy().reshape(-1)
        theirs = tensors["start." + engine_name(name)].reshape(-1)
        print(f"  {name:48s} max |torch - engine| {np.abs(ours - theirs).max():.3e} (engine range {theirs.min():.3f}..{theirs.max():.3f})")
    for name, p in fresh.named_parameters():
        if name.startswith(("transforms.4.transforms.0.", "transforms.4.transforms.3.")):
            e = tensors["init." + engine_name(name)]
            print(f"  {name:72s} std torch {p.detach().std().item():.4f} engine {e.std():.4f}  max|.| torch {p.detach().abs().max().item():.4f} engine {np.abs(e).max():.4f}")

    print("== the same weights, the same batches")
    load(flow, tensors, "start.")
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr)
    batches = torch.from_numpy(tensors["batches"].copy()).to(dtype)
    saved = [int(s) for s in metadata["saved"].split(",")]
    apart = None
    for step in range(steps):
        set_rate(optimizer, rate_at(metadata, step))
        x = batches[step]
        loss = -flow.log_prob(x).mean()
        optimizer.zero_grad()
        loss.backward()
        if step == 0:
            rows = []
            for name, p in flow.named_parameters():
                ours = image_flows.engine_tensor(name, p.grad.detach()).double().numpy()
                absolute, relative = difference(ours, tensors["grad0." + engine_name(name)])
                rows.append((relative, absolute, name, np.abs(ours).max()))
            rows.sort(reverse=True)
            print(f"  step 1 gradient, {len(rows)} parameters; farthest apart (relative to the engine's largest |g|):")
            for relative, absolute, name, largest in rows[:args.show]:
                print(f"    {name:72s} rel {relative:.2e} abs {absolute:.2e} (max |g| {largest:.3e})")
        norm = torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
        optimizer.step()
        print(f"  step {step + 1:3d}: loss torch {loss.item():12.4f} engine {tensors['loss'][step]:12.4f} (diff {loss.item() - tensors['loss'][step]:+.4f} nats, "
              f"{(loss.item() - tensors['loss'][step]) / (d * math.log(2)):+.6f} bits/dim); grad norm torch {norm.item():10.4f} engine {tensors['grad_norm'][step]:10.4f}")
        if apart is None and abs(loss.item() - tensors["loss"][step]) > 1e-4 * abs(tensors["loss"][step]):
            apart = step + 1
        if step + 1 in saved:
            rows = []
            for name, p in flow.named_parameters():
                ours = image_flows.engine_tensor(name, p.detach()).double().numpy()
                start = tensors["start." + engine_name(name)].astype(np.float64)
                theirs = tensors[f"after{step + 1}." + engine_name(name)].astype(np.float64)
                moved = max(np.abs(theirs - start).max(), 1e-30)
                ours = ours.reshape(theirs.shape)
                rows.append((np.abs(ours - theirs).max() / moved, np.abs(ours - theirs).max(), name, moved))
            rows.sort(reverse=True)
            print(f"  after step {step + 1}: |torch - engine| relative to how far the engine's weights moved since the start, farthest first:")
            for relative, absolute, name, moved in rows[:args.show]:
                print(f"    {name:72s} {relative:.2e} (abs {absolute:.2e}, moved {moved:.2e})")
    print(f"== first step whose loss differs by more than 1e-4 relative: {apart if apart is not None else f'none of {steps}'}")
    if args.test > 0:
        engine = build(spec, dtype)
        load(engine, tensors, f"after{steps}.")
        print(f"== test bits/dim over {args.test} test images (one noise draw, seed 123): "
              f"PyTorch's replay {test_bits_per_dim(flow, args, dtype):.4f}, the engine's weights {test_bits_per_dim(engine, args, dtype):.4f}")


def test_bits_per_image(flow, args, dtype):
    """-log2 p / D of each of the first --test test images, one seeded noise draw (the same for every model scored)."""
    test = torch.from_numpy(torch_images.load(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"), args.test)).to(dtype)
    noisy = test + torch.rand(test.shape, generator=torch.Generator().manual_seed(123)).to(dtype)
    with torch.no_grad():
        log_prob = torch.cat([flow.log_prob(chunk) for chunk in noisy.split(100)])
    return -log_prob / (test.shape[1] * math.log(2))


def test_bits_per_dim(flow, args, dtype):
    return float(test_bits_per_image(flow, args, dtype).mean())


DEFENSIVE_WEIGHT = 1e-3


def with_uniform_component(bits, d=784, e=DEFENSIVE_WEIGHT):
    """Per-image bits/dim of the density the service serves for an image model, (1 - e) p_flow + e U[0,256)^d
    (DefensiveMixture with a UniformCube), from the flow's per-image bits/dim. e is the smallest weight the service
    tries on validation, the one it picks unless validation images themselves score near 8 bits/dim. The uniform
    density is 8 bits/dim, so any image is capped near 8 + log2(1/e)/d and a typical one pays log2(1/(1-e))/d."""
    bits = np.asarray(bits, dtype=np.float64)
    return -np.logaddexp(np.log(1 - e) - bits * d * np.log(2), np.log(e) - 8 * d * np.log(2)) / (d * np.log(2))


def train_all(args, tensors, metadata, spec, dtype):
    """Trains all the file's steps with each of the two sides' starting point and batches, as torch_images.py does."""
    seed, steps, lr = int(metadata["seed"]), int(metadata["steps"]), float(metadata["lr"])
    batches = torch.from_numpy(tensors["batches"].copy()).to(dtype)
    batch, d = batches.shape[1], batches.shape[2]
    torch.manual_seed(seed)
    flow = build(spec, dtype)
    if args.init == "engine":
        load(flow, tensors, "start.")
    elif args.init == "engine-final":
        load(flow, tensors, f"after{steps}.")
    else:
        train = torch.from_numpy(torch_images.load(os.path.join(args.data, "train-images-idx3-ubyte.gz"), steps * batch)).to(dtype)
        init_rows = train[:min(1024, len(train))]
        flow.initialize_from_data(init_rows + torch.rand(init_rows.shape, generator=torch.Generator().manual_seed(2)).to(dtype))
        with torch.no_grad():
            for module in flow.modules():
                if isinstance(module, image_flows.ConvResNet):
                    module.output.weight.zero_()
                    module.output.bias.zero_()
    if args.batches == "torch":
        train = torch.from_numpy(torch_images.load(os.path.join(args.data, "train-images-idx3-ubyte.gz"), steps * batch)).to(dtype)
        order = torch.randperm(len(train))
    optimizer = torch.optim.Adam(flow.parameters(), lr=lr)
    total = 0.0
    for step in range(steps if args.init != "engine-final" else 0):
        set_rate(optimizer, rate_at(metadata, step))
        if args.batches == "engine":
            x = batches[step]
        else:
            x = train[order[step * batch:(step + 1) * batch]]
            x = x + torch.rand_like(x)
        loss = -flow.log_prob(x).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
        optimizer.step()
        total += loss.item()
    test_bits = test_bits_per_image(flow, args, dtype)
    if args.per_image:
        np.save(args.per_image, test_bits.double().numpy())
    print(json.dumps({"init": args.init, "batches": args.batches, "seed": seed, "steps": steps,
                      "train_bits_per_dim": total / steps / (d * math.log(2)) if args.init != "engine-final" else float(tensors["loss"].mean()) / (d * math.log(2)),
                      "test_bits_per_dim": float(test_bits.mean()),
                      "test_bits_per_dim_served": float(with_uniform_component(test_bits.double().numpy(), d).mean()),
                      "defensive_weight": DEFENSIVE_WEIGHT, "test_images": args.test}), flush=True)


if __name__ == "__main__":
    main()
