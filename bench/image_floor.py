"""The figures behind the image recipe's input-ActNorm floor (issue 13, fifth pass in bench/RESULTS.md).

    /usr/bin/python3 bench/image_floor.py stats [--floors 0,0.1,0.2,0.5,1]
        Fits the input ActNorm on 1,024 dequantized Fashion-MNIST training images in logit units (as both sides do)
        with each floor (a fraction of the pooled std), then says how many of the 60,000 training images leave it
        beyond 10, 20 and 50 standard deviations somewhere.
    /usr/bin/python3 bench/image_floor.py steps FILE...
        Per `FlowService.Bench image-parity` file: the input ActNorm's largest logScale, gradient norms, clip factors
        and loss spikes over its steps.
    /usr/bin/python3 bench/image_floor.py compare LOG...
        Means, standard deviations and standard errors of test bits/dim per side from torch_image_parity.py's
        --train-all JSON lines ("engine-final": the engine's run; "torch": PyTorch's own start, shuffle and noise).
"""
import argparse
import gzip
import json
import math
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
import safetensors_io  # noqa: E402


def logit(pixels, alpha=0.05):
    s = alpha + (1 - 2 * alpha) * pixels / 256.0
    return np.log(s) - np.log1p(-s)


def stats(args):
    raw = gzip.open(os.path.join(args.data, "train-images-idx3-ubyte.gz")).read()
    train = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 784).astype(np.float64)
    rng = np.random.default_rng(0)
    init = logit(train[:1024] + rng.random((1024, 784)))
    mean, std = init.mean(0), init.std(0)
    pooled = init.std()
    print(f"pooled std {pooled:.4f}; per-pixel std min {std.min():.4f}, 5% {np.quantile(std, 0.05):.4f}, median {np.median(std):.4f}; "
          f"pixels with std < 0.05: {(std < 0.05).sum()}, < 0.2: {(std < 0.2).sum()}")
    full = logit(train + rng.random(train.shape))
    for floor in [float(f) for f in args.floors.split(",")]:
        s = np.maximum(std, floor * pooled)
        z = np.abs(full - mean) / s
        worst = z.max(1)
        print(f"floor {floor:4}: std >= {floor * pooled:.4f}, logScale max {(-np.log(s)).max():.3f}; over {len(train)} training images: "
              f"max |z| {z.max():6.1f}; images beyond 10 / 20 / 50 stds: {(worst > 10).sum()} / {(worst > 20).sum()} / {(worst > 50).sum()}")


def steps(args):
    for path in args.files:
        t, metadata = safetensors_io.read(path)
        loss, norm, clip = (t[k].astype(np.float64) for k in ("loss", "grad_norm", "clip"))
        spec = json.loads(metadata["spec"])
        log_scale = t.get("start.transforms.3.logScale")
        local = [k for k in range(len(loss)) if loss[k] > 2 * np.median(loss[max(0, k - 10):k + 10])]
        print(json.dumps({
            "file": os.path.basename(path), "seed": int(metadata["seed"]), "steps": len(loss),
            "inputNormFloor": spec.get("inputNormFloor", "default"),
            "logScale_max": None if log_scale is None else round(float(log_scale.max()), 3),
            "grad_norm_median": float(f"{np.median(norm):.3g}"), "grad_norm_max": float(f"{norm.max():.3g}"),
            "steps_clipped": int((clip < 1).sum()), "clip_median": float(f"{np.median(clip):.3g}"), "clip_min": float(f"{clip.min():.3g}"),
            "loss_median_nats": round(float(np.median(loss)), 1), "loss_max_nats": float(f"{loss.max():.4g}"),
            "spikes_over_2x_local_median": [(k + 1, float(f"{loss[k]:.3g}")) for k in local],
            "last_20_steps_bits_per_dim": round(float(loss[-20:].mean() / (784 * math.log(2))), 4)}))


def compare(args):
    sides = {"engine": {}, "pytorch": {}}
    for path in args.files:
        for line in open(path):
            if line.startswith("{"):
                row = json.loads(line)
                sides["engine" if row["init"] == "engine-final" else "pytorch"][row["seed"]] = row["test_bits_per_dim"]
    summary = {}
    for side, runs in sides.items():
        values = [runs[s] for s in sorted(runs)]
        if not values:
            continue
        sd = statistics.stdev(values) if len(values) > 1 else float("nan")
        summary[side] = (statistics.mean(values), sd, len(values))
        print(f"{side:8s} seeds {sorted(runs)}: " + ", ".join(f"{v:.4f}" for v in values)
              + f"; mean {statistics.mean(values):.4f}, sd {sd:.4f}, se {sd / math.sqrt(len(values)):.4f}")
    if len(summary) == 2 and min(n for _, _, n in summary.values()) > 1:
        (me, se_, ne), (mp, sp, np_) = summary["engine"], summary["pytorch"]
        se = math.sqrt(se_ ** 2 / ne + sp ** 2 / np_)
        print(f"engine - PyTorch: {me - mp:+.4f} bits/dim, standard error {se:.4f} (95% interval {me - mp - 1.96 * se:+.4f}..{me - mp + 1.96 * se:+.4f})")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("stats")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--floors", default="0,0.1,0.2,0.5,1")
    p.set_defaults(run=stats)
    for name, run in [("steps", steps), ("compare", compare)]:
        p = sub.add_parser(name)
        p.add_argument("files", nargs="+")
        p.set_defaults(run=run)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
