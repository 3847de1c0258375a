"""PyTorch 1.13 CPU side of the reverse-KL step benchmark (bench/run_reverse_kl_speed.sh runs it beside the C# one).

The step FlowService's ReverseKlTrainer takes: z ~ N(0, I) (512 x D), x = T(z) through a RealNVP of 8 affine couplings
(hidden [64, 64], scale clamp 8, tools/reference/flows.py modules, used in the sampling direction as the engine's
generative flows are), loss = mean(log N(z) - log|det dT/dz| - log p~(x)) for Neal's funnel (scale 3), backward, global
norm clipping at 5, Adam. Prints {"bench", "metric": "reverse_kl_samples_per_s", "value", "threads"} per D, the best of
torch.set_num_threads(1) and (2) (run with OPENBLAS_NUM_THREADS=1).
Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_reverse_kl_bench.py [--seconds 2] [--dims 2,10]
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
import flows  # noqa: E402

BATCH = 512
GRAD_CLIP = 5.0


def funnel(x, scale=3.0):
    d = x.shape[1]
    return -x[:, 0] ** 2 / (2 * scale * scale) - 0.5 * (d - 1) * x[:, 0] - 0.5 * torch.exp(-x[:, 0]) * (x[:, 1:] ** 2).sum(dim=1)


def halves(i, d):
    first, second = list(range(d // 2)), list(range(d // 2, d))
    return (first, second) if i % 2 == 0 else (second, first)


def samples_per_second(d, seconds):
    torch.manual_seed(0)
    flow = flows.Flow([flows.Coupling(*halves(i, d), flows.AffineLeaf(8.0), [64, 64]) for i in range(8)])
    parameters = list(flow.parameters())
    optimizer = torch.optim.Adam(parameters, lr=1e-3)

    def step():
        z = torch.randn(BATCH, d)
        x, ladj = flow(z)
        log_base = -0.5 * (z ** 2).sum(dim=1) - 0.5 * d * math.log(2 * math.pi)
        loss = (log_base - ladj - funnel(x)).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, GRAD_CLIP)
        optimizer.step()

    for _ in range(3):
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return n * BATCH / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--dims", default="2,10")
    args = parser.parse_args()
    for d in (int(v) for v in args.dims.split(",")):
        best = (0.0, 0)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            best = max(best, (samples_per_second(d, args.seconds), threads))
        print(json.dumps({"bench": f"reverse_kl_funnel_d{d}", "metric": "reverse_kl_samples_per_s", "value": round(best[0], 1), "threads": best[1]}))


if __name__ == "__main__":
    main()
