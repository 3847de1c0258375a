"""PyTorch 1.13's steady rates on bench/torch_images.py's Fashion-MNIST flow (same architecture, init, data and
training step: gather, U[0, 1) dequantization, forward, backward, clip at 5, Adam), timed per call instead of per
epoch: each training step and each 500-image log p call (chunks of 100, no_grad) on its own. Prints the first steps,
then the median and best of the rest, as `FlowService.Bench image-steps` and `image-score` do for the engine
(bench/run_image_steady.sh runs both sides). Run with OPENBLAS_NUM_THREADS=1.
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_images import build_flow, load  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip", type=int, default=10, help="first steps and calls left out of the median")
    parser.add_argument("--flush-denormal", action="store_true", help="torch.set_flush_denormal(True)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.flush_denormal:
        torch.set_flush_denormal(True)
    torch.manual_seed(1)
    train = torch.from_numpy(load(os.path.join(args.data, "train-images-idx3-ubyte.gz"), 4096))
    test = torch.from_numpy(load(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"), args.images))
    flow = build_flow(train)
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)

    step_ms = []
    for step in range(args.steps):
        started = time.perf_counter()
        first = step * args.batch % (train.shape[0] - args.batch)
        x = train[first:first + args.batch]
        x = x + torch.rand_like(x)
        loss = -flow.log_prob(x).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(flow.parameters(), 5.0)
        optimizer.step()
        loss.item()
        step_ms.append(1e3 * (time.perf_counter() - started))

    noisy = test + torch.rand(test.shape, generator=torch.Generator().manual_seed(123))
    call_ms = []
    with torch.no_grad():
        for _ in range(args.calls):
            started = time.perf_counter()
            torch.cat([flow.log_prob(chunk) for chunk in noisy.split(100)])
            call_ms.append(1e3 * (time.perf_counter() - started))

    rest = step_ms[args.skip:]
    print(f"pytorch {args.threads} threads; first steps (ms): {' '.join(f'{t:.1f}' for t in step_ms[:args.skip])}")
    print(f"pytorch steps {args.skip + 1}-{args.steps}: median {statistics.median(rest):.1f} ms, best {min(rest):.1f} ms "
          f"({args.batch * 1e3 / statistics.median(rest):.0f} / {args.batch * 1e3 / min(rest):.0f} images/s)")
    calls = call_ms[min(2, len(call_ms) - 1):]
    print(f"pytorch scoring {args.images} images, calls (ms): {' '.join(f'{t:.1f}' for t in call_ms)}; calls 3-{args.calls}: median "
          f"{statistics.median(calls):.1f} ms ({args.images * 1e3 / statistics.median(calls):.0f} images/s), best "
          f"{min(calls):.1f} ms ({args.images * 1e3 / min(calls):.0f} images/s)")
    steady = call_ms[args.calls // 2:]
    print(f"pytorch steady calls {args.calls // 2 + 1}-{args.calls}: median {statistics.median(steady):.1f} ms "
          f"({args.images * 1e3 / statistics.median(steady):.0f} images/s)")


if __name__ == "__main__":
    main()
