"""PyTorch 1.13 CPU side of the Fashion-MNIST image-flow measurement (bench/run_images.sh runs it
beside `FlowService.Bench images`), with the same architecture (tools/reference/image_flows.py,
float32 here), data, dequantization and budget:
  - the first --train training images (uint8 IDX from Debian's dataset-fashion-mnist), each batch
    dequantized with fresh U[0, 1) noise, a new shuffle per epoch, batch 256, Adam lr 1e-3
    (constant), global-norm clipping at 5 (the service's default), --epochs epochs;
  - conditioner convolutions with nn.Conv2d's default init, the last one of each coupling zero
    (the engine's zeroInit default);
  - test bits/dim over --test test images with one seeded uniform-noise draw each, the AUROC of
    log p between the first 1,000 test images and 1,000 uniform-noise images, training images/s
    (the epoch's batches: gather, forward, backward, clip, Adam) and scoring images/s (log p of
    the test images under no_grad in one call).
Run with OPENBLAS_NUM_THREADS=1 and report the best of --threads 1 and 2 (../shared/ARCHITECTURE.md).
Prints one JSON object per line: {"bench", "impl", "metric", "value", "unit", "note"}.
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
import image_flows  # noqa: E402


def load(path, count):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n, h, w = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, h * w)[:count].astype(np.float32)


def emit(threads, metric, value, unit, note):
    print(json.dumps({"bench": "fashion_mnist", "impl": "pytorch", "threads": threads, "metric": metric,
                      "value": value, "unit": unit, "note": note}), flush=True)


def build_flow(train, levels=2, steps=2, channels=32, blocks=1, input_norm=True, input_norm_floor=0.2):
    """The benchmark's multi-scale RealNVP for 28x28 images, data-initialised on the first 1,024 training images (one seeded
    noise draw), with each coupling's last convolution zero (the engine's zeroInit default)."""
    level0 = image_flows.realnvp_level(1, levels, steps, "affine", channels, blocks, "relu")
    flow = image_flows.ImageFlow((1, 28, 28), 256.0, 0.05, level0, input_norm=input_norm, input_norm_floor=input_norm_floor).float()
    init_rows = train[:1024]
    flow.initialize_from_data(init_rows + torch.rand(init_rows.shape, generator=torch.Generator().manual_seed(2)))
    with torch.no_grad():
        for module in flow.modules():
            if isinstance(module, image_flows.ConvResNet):
                module.output.weight.zero_()
                module.output.bias.zero_()
    return flow


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--levels", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-input-norm", dest="input_norm", action="store_false",
                        help="leave out the engine's inputNorm (a per-value ActNorm after the logit, initialised from 1,024 dequantized training images)")
    parser.add_argument("--input-norm-floor", type=float, default=0.2,
                        help="the input ActNorm's smallest fitted std as a fraction of the pooled std (the engine's inputNormFloor; 0: none)")
    parser.add_argument("--seed", type=int, default=1, help="the initial weights' and the shuffles' seed (the engine's --seed)")
    parser.add_argument("--warmup", type=int, default=0, help="linear learning-rate warm-up steps (the engine's training.warmupSteps)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = torch.from_numpy(load(os.path.join(args.data, "train-images-idx3-ubyte.gz"), args.train))
    test = torch.from_numpy(load(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"), args.test))
    d = train.shape[1]

    flow = build_flow(train, args.levels, args.steps, args.channels, args.blocks, args.input_norm, args.input_norm_floor)
    optimizer = torch.optim.Adam(flow.parameters(), lr=args.lr)
    step = 0

    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(args.train)
        started, total = time.perf_counter(), 0.0
        for start in range(0, args.train, args.batch):
            x = train[order[start:start + args.batch]]
            x = x + torch.rand_like(x)
            loss = -flow.log_prob(x).mean()
            optimizer.zero_grad()
            for group in optimizer.param_groups:
                group["lr"] = args.lr * min(1.0, (step + 1) / args.warmup) if args.warmup > 0 else args.lr
            step += 1
            loss.backward()
            torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
            optimizer.step()
            total += loss.item() * x.shape[0]
        seconds = time.perf_counter() - started
        emit(args.threads, "train_images_per_s", args.train / seconds, "images/s",
             f"epoch {epoch}, train NLL {total / args.train / (d * math.log(2)):.4f} bits/dim")

    generator = torch.Generator().manual_seed(123)
    noisy = test + torch.rand(test.shape, generator=generator)
    with torch.no_grad():
        started = time.perf_counter()
        log_prob = torch.cat([flow.log_prob(chunk) for chunk in noisy.split(100)])
        seconds = time.perf_counter() - started
        emit(args.threads, "test_bits_per_dim", float((-log_prob / (d * math.log(2))).mean()), "bits/dim",
             f"{args.test} test images, one uniform-noise draw each (seed 123)")
        emit(args.threads, "score_images_per_s", args.test / seconds, "images/s", f"log p of {args.test} images, chunks of 100")
        noise = torch.randint(0, 256, (1000, d), generator=generator).float() + torch.rand(1000, d, generator=generator)
        noise_log_prob = torch.cat([flow.log_prob(chunk) for chunk in noise.split(100)])
    positives = log_prob[:1000]
    auroc = ((positives[:, None] > noise_log_prob[None, :]).double().mean() + 0.5 * (positives[:, None] == noise_log_prob[None, :]).double().mean())
    emit(args.threads, "uniform_noise_auroc", float(auroc), "", f"log p of {len(positives)} test vs 1000 uniform-noise images")


if __name__ == "__main__":
    main()
