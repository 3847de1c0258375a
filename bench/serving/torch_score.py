"""PyTorch 1.13 CPU side of the serving benchmark: in-process no_grad log p of RealNVP d=16, 8 affine couplings,
hidden [128, 128] (the realnvp_d16 architecture of bench/torch_bench.py, built from tools/reference/flows.py),
1,000-row batches, best of torch.set_num_threads(1) and (2) with OPENBLAS_NUM_THREADS=1. Prints one JSON line.
Usage: OPENBLAS_NUM_THREADS=1 python3 bench/serving/torch_score.py [--seconds 3]
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import torch_bench  # noqa: E402


def rows_per_second(flow, x, seconds):
    with torch.no_grad():
        for _ in range(5):
            flow.log_prob(x)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            flow.log_prob(x)
            n += 1
        return n * x.shape[0] / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    d, build = torch_bench.CONFIGS["realnvp_d16"]
    torch.manual_seed(0)
    flow = build().eval()
    x = torch.randn(1000, d)
    single = torch.randn(1, d)
    results = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        results[threads] = (rows_per_second(flow, x, args.seconds), rows_per_second(flow, single, args.seconds))
    best = max(results, key=lambda t: results[t][0])
    print(json.dumps({
        "mode": "torch", "torch": torch.__version__, "batch1000RowsPerSecond": results[best][0], "threads": best,
        "byThreads": {str(t): {"batch1000RowsPerSecond": r[0], "singleRowCallsPerSecond": r[1]} for t, r in results.items()},
    }))


if __name__ == "__main__":
    main()
