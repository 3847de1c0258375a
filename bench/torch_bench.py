"""PyTorch 1.13 CPU side of the flow benchmarks (bench/run_flows.sh runs it beside the C# one).

Same architectures as `dotnet run -c Release --project bench/FlowService.Bench -- flows`, built
from the reference modules in tools/reference/flows.py (float32 here):
  realnvp_d8   RealNVP d=8  hidden [64, 64]   8 affine couplings
  realnvp_d16  RealNVP d=16 hidden [128, 128] 8 affine couplings
  realnvp_d64  RealNVP d=64 hidden [256, 256] 10 affine couplings
  maf_d16      MAF     d=16 hidden [128, 128] 8 MADE affine layers, reversals between
  nsf_d16      NSF     d=16 hidden [128, 128] 8 spline couplings, 8 bins, tail bound 5
  flowpp_d16   Flow++  d=16 hidden [128, 128] 8 logistic-mixture CDF couplings, 4 components
  realnvp_attention_d16  RealNVP d=16, gated self-attention conditioner (E 16, 2 heads) then [128, 128]
For each: training samples/s (gather a batch of 512 rows from a shuffled training set, forward +
backward of -mean log p, global-norm clipping at 5 as the service does, Adam step),
scoring rows/s (log p under no_grad, batch 512) and single-row scoring latency (median us).
Run with OPENBLAS_NUM_THREADS=1 (run_flows.sh sets it); each figure is the best of
torch.set_num_threads(1) and (2), because 2 torch threads on top of OpenBLAS's own threads
oversubscribe a 2-core machine (see ../shared/ARCHITECTURE.md).
Prints one JSON object per line: {"bench", "metric", "value", "unit", "threads"}.
Usage: OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_bench.py [--seconds 1.5] [--only realnvp_d8,...]
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
import flows  # noqa: E402

BATCH = 512
DATA_ROWS = 16 * BATCH
GRAD_CLIP = 5.0  # the service's default training.gradClip


def halves(i, d):
    first, second = list(range(d // 2)), list(range(d // 2, d))
    return (first, second) if i % 2 == 0 else (second, first)


def coupling_flow(d, hidden, layers, leaf):
    return flows.Flow([flows.Coupling(*halves(i, d), leaf, hidden) for i in range(layers)])


def maf_flow(d, hidden, layers):
    chain = []
    for i in range(layers):
        if i > 0:
            chain.append(flows.Permutation(list(range(d - 1, -1, -1))))
        chain.append(flows.Autoregressive(d, flows.AffineLeaf(3.0), hidden))
    return chain


CONFIGS = {
    "realnvp_d8": (8, lambda: coupling_flow(8, [64, 64], 8, flows.AffineLeaf(3.0))),
    "realnvp_d16": (16, lambda: coupling_flow(16, [128, 128], 8, flows.AffineLeaf(3.0))),
    "realnvp_d64": (64, lambda: coupling_flow(64, [256, 256], 10, flows.AffineLeaf(3.0))),
    "maf_d16": (16, lambda: flows.Flow(maf_flow(16, [128, 128], 8))),
    "nsf_d16": (16, lambda: coupling_flow(16, [128, 128], 8, flows.SplineLeaf(8, 5.0))),
    "flowpp_d16": (16, lambda: coupling_flow(16, [128, 128], 8, flows.LogisticMixtureLeaf(4, 3.0))),
    "realnvp_attention_d16": (16, lambda: flows.Flow([flows.Coupling(*halves(i, 16), flows.AffineLeaf(3.0), [128, 128], attention=(16, 2))
                                                      for i in range(8)])),
}


def timed(step, seconds, warmup=3):
    """Calls per second of `step`, over at least `seconds` after a warm-up."""
    for _ in range(warmup):
        step()
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


def measure(name, d, build, seconds):
    torch.manual_seed(0)
    flow = build()
    data = torch.randn(DATA_ROWS, d)
    x = data[:BATCH].clone()
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)
    parameters = list(flow.parameters())
    order = {"rows": torch.randperm(DATA_ROWS), "cursor": 0}

    def train_step():
        # What the engine's step does too (bench/FlowService.Bench/ShardedTrainingStep.cs): gather the
        # batch's rows from a shuffled training set, -mean log p, backward, clip the global norm, Adam.
        if order["cursor"] + BATCH > DATA_ROWS:
            order["rows"], order["cursor"] = torch.randperm(DATA_ROWS), 0
        batch = data[order["rows"][order["cursor"]:order["cursor"] + BATCH]]
        order["cursor"] += BATCH
        optimizer.zero_grad(set_to_none=True)
        loss = -flow.log_prob(batch).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, GRAD_CLIP)
        optimizer.step()

    def score_step():
        with torch.no_grad():
            flow.log_prob(x)

    row = x[:1].clone()

    def latency():
        samples = []
        with torch.no_grad():
            for _ in range(20):
                flow.log_prob(row)
            deadline = time.perf_counter() + seconds / 2
            while time.perf_counter() < deadline or len(samples) < 50:
                t = time.perf_counter()
                flow.log_prob(row)
                samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1e6

    return {
        "train_samples_per_s": timed(train_step, seconds) * BATCH,
        "score_rows_per_s": timed(score_step, seconds) * BATCH,
        "latency_us": latency(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        print("torch_bench: set OPENBLAS_NUM_THREADS=1 (run_flows.sh does)", file=sys.stderr)
    torch.set_default_dtype(torch.float32)
    names = [n for n in CONFIGS if not args.only or n in args.only.split(",")]
    for name in names:
        d, build = CONFIGS[name]
        best = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for metric, value in measure(name, d, build, args.seconds).items():
                lower_is_better = metric == "latency_us"
                if metric not in best or (value < best[metric][0]) == lower_is_better:
                    best[metric] = (value, threads)
        units = {"train_samples_per_s": "samples/s", "score_rows_per_s": "rows/s", "latency_us": "us"}
        for metric, (value, threads) in best.items():
            print(json.dumps({"bench": name, "metric": metric, "value": round(value, 1), "unit": units[metric],
                              "threads": threads, "impl": "torch " + torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
