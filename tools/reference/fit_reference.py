"""Trains the 2-D fitting architectures with PyTorch, exactly as FlowService's FlowTrainer trains
them, and writes the held-out NLLs that tests/FlowService.Training.Tests/Fitting/ToyFittingTests
compare the C# engine with (issue 2, "Fitting": within 0.05 nats of PyTorch for the same budget).

Regenerate (Debian's PyTorch 1.13 CPU and python3-numpy; CI never runs this, the JSON is committed):
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/reference/fit_reference.py \
        [--out tests/FlowService.Training.Tests/Fitting/torch_fitting.json]

Both sides use the same data and the same recipe of training:
  * rows from tools/reference/toy_datasets.py (SplitMix64 + Box-Muller in double, rounded to
    float32), bit-identical to ToyDatasets.cs; the JSON carries the sha256 of the float32 rows and
    the C# test checks its own rows against it;
  * a contiguous split: the first rows train, the next validate (early stopping), the rest test;
  * standardization fitted on the training rows (population std, computed in double, stored in
    float32) as the flow's first transform, so NLLs are in the data's units;
  * the architecture from the same JSON spec (the torch modules of tools/reference/flows.py with
    the C# recipes' structure), PyTorch's default nn.Linear initialisation (the C# initializer
    draws from the same U(-1/sqrt(fan_in), 1/sqrt(fan_in)));
  * mini-batches of `batchSize` rows in a fresh random order every epoch (the last batch keeps the
    remainder), the mean NLL of the batch as the loss, clip_grad_norm_ to `gradClip`, Adam
    (betas 0.9/0.999, eps 1e-8) with the cosine schedule indexed by optimizer step that decays
    from `learningRate` to 1% of it at the last step of the last epoch;
  * after every epoch the validation NLL; training stops after `patience` epochs without a better
    one, and the best epoch's weights are the model that scores the test rows.
The shuffles and initial weights come from different generators on the two sides (System.Random
vs torch), so each side is one draw from the same training procedure; the script trains every set
with several seeds and records each seed's test NLL, their mean and spread, so the tolerance of the
comparison can be judged against PyTorch's own seed-to-seed variation.
"""
import argparse
import copy
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flows  # noqa: E402
import toy_datasets  # noqa: E402

DATA_SEED = 11
TRAIN, VALIDATION, TEST = 20_000, 5_000, 20_000
TRAINING = {"epochs": 30, "batchSize": 256, "learningRate": 1e-3, "patience": 10, "gradClip": 5.0}
SEEDS = [1, 2]

# One architecture per set (see bench/RESULTS.md, "Fitting", for why these).
SETS = {
    "two-moons": {"type": "nsf", "layers": 4, "hidden": [64, 64], "bins": 8, "tailBound": 5},
    "checkerboard": {"type": "nsf", "layers": 6, "hidden": [64, 64], "bins": 8, "tailBound": 5},
    "8-gaussians": {"type": "nsf", "layers": 4, "hidden": [64, 64], "bins": 8, "tailBound": 5},
}


class Standardization(torch.nn.Module):
    """z = (x - mean) / std per column, fixed; log|det| = -sum(log std). No parameters."""

    def __init__(self, train):
        super().__init__()
        rows = train.astype(np.float64)
        mean = rows.mean(axis=0)
        std = np.sqrt(((rows - mean) ** 2).mean(axis=0))
        std = np.where((std > 1e-12) & np.isfinite(std), std, 1.0)
        self.register_buffer("mean", torch.tensor(mean.astype(np.float32)))
        self.register_buffer("log_std", torch.log(torch.tensor(std.astype(np.float32))))

    def forward(self, x, context):
        z = (x - self.mean) * torch.exp(-self.log_std)
        return z, (-self.log_std.sum()).expand(x.shape[0])


def halves(i, d):
    """Coupling.Halves: even layers keep the first floor(d/2) features, odd layers the rest."""
    first, second = list(range(d // 2)), list(range(d // 2, d))
    return (first, second) if i % 2 == 0 else (second, first)


def recipe(spec, d):
    """The chain of FlowService.Model's recipe for `spec` (the types the fitting tests use)."""
    kind, layers, hidden = spec["type"], spec["layers"], spec["hidden"]
    activation = spec.get("activation", "relu")
    if kind == "nsf" and spec.get("variant", "coupling") == "coupling":
        leaf = flows.SplineLeaf(spec["bins"], spec["tailBound"])
        return [flows.Coupling(*halves(i, d), leaf, hidden, 0, activation) for i in range(layers)]
    if kind == "realnvp":
        leaf = flows.AffineLeaf(spec.get("scaleClamp", 3.0))
        return [flows.Coupling(*halves(i, d), leaf, hidden, 0, activation) for i in range(layers)]
    if kind in ("maf", "nsf"):
        leaf = flows.AffineLeaf(spec.get("scaleClamp", 3.0)) if kind == "maf" else flows.SplineLeaf(spec["bins"], spec["tailBound"])
        chain = []
        for i in range(layers):
            if i > 0:
                chain.append(flows.Permutation(list(range(d - 1, -1, -1))))
            chain.append(flows.Autoregressive(d, leaf, hidden, 0, activation))
        return chain
    raise ValueError(f"fit_reference.py has no recipe for {spec}")


def cosine(step, total, rate):
    """LearningRateSchedule.Cosine(rate, total, minimum: 0.01 rate) at a 0-based optimizer step."""
    minimum = 0.01 * rate
    progress = min(1.0, step / total)
    return minimum + 0.5 * (rate - minimum) * (1 + math.cos(math.pi * progress))


def mean_nll(flow, x):
    with torch.no_grad():
        return float(-flow.log_prob(x).double().mean())


def train(spec, rows, seed):
    """FlowTrainer's procedure; returns (test NLL, epochs run, best epoch, seconds)."""
    started = time.perf_counter()
    d = rows.shape[1]
    train_rows, validation, test = rows[:TRAIN], rows[TRAIN:TRAIN + VALIDATION], rows[TRAIN + VALIDATION:]
    torch.manual_seed(seed)
    flow = flows.Flow([Standardization(train_rows), *recipe(spec, d)])
    x, xv, xt = (torch.from_numpy(np.ascontiguousarray(a)) for a in (train_rows, validation, test))
    p = TRAINING
    batch = min(p["batchSize"], TRAIN)
    batches = (TRAIN + batch - 1) // batch
    total = max(1, p["epochs"] * batches)
    optimizer = torch.optim.Adam(flow.parameters(), lr=p["learningRate"], betas=(0.9, 0.999), eps=1e-8)
    best, best_epoch, bad, step = math.inf, 0, 0, 0
    best_state = copy.deepcopy(flow.state_dict())
    epoch = 0
    while epoch < p["epochs"] and bad < p["patience"]:
        epoch += 1
        order = torch.from_numpy(np.random.RandomState(seed + epoch).permutation(TRAIN))
        for start in range(0, TRAIN, batch):
            for group in optimizer.param_groups:
                group["lr"] = cosine(step, total, p["learningRate"])
            optimizer.zero_grad()
            loss = -flow.log_prob(x[order[start:start + batch]]).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(flow.parameters(), p["gradClip"])
            optimizer.step()
            step += 1
        validation_nll = mean_nll(flow, xv)
        if not math.isfinite(validation_nll):
            raise RuntimeError(f"{spec}: validation NLL {validation_nll} in epoch {epoch}")
        if validation_nll < best:
            best, best_epoch, bad = validation_nll, epoch, 0
            best_state = copy.deepcopy(flow.state_dict())
        else:
            bad += 1
    flow.load_state_dict(best_state)
    return mean_nll(flow, xt), epoch, best_epoch, time.perf_counter() - started


def true_test_nll(name, test):
    """The generating density's NLL on the test rows, where it has a closed form."""
    if name == "checkerboard":
        return math.log(32.0)
    if name == "8-gaussians":
        return float(-toy_datasets.eight_gaussians_log_density(test.astype(np.float64)).mean())
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    parser.add_argument("--out", default=os.path.join(root, "tests", "FlowService.Training.Tests", "Fitting", "torch_fitting.json"))
    parser.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    args = parser.parse_args()
    # Batches of 256 rows through 2-D flows are far too small for intra-op threads to pay.
    torch.set_num_threads(1)
    results = {}
    for name in args.sets:
        spec = SETS[name]
        rows = toy_datasets.generate(name, TRAIN + VALIDATION + TEST, DATA_SEED)
        runs = []
        for seed in SEEDS:
            nll, epochs, best_epoch, seconds = train(spec, rows, seed)
            runs.append({"seed": seed, "testNll": round(nll, 6), "epochsRun": epochs, "bestEpoch": best_epoch, "seconds": round(seconds, 1)})
            print(f"{name:13s} seed {seed}: test NLL {nll:.4f}  epochs {epochs} (best {best_epoch})  {seconds:.1f} s", flush=True)
        nlls = np.array([r["testNll"] for r in runs])
        truth = true_test_nll(name, rows[TRAIN + VALIDATION:])
        results[name] = {
            "spec": json.dumps(spec, separators=(",", ":")),
            "rowsSha256": hashlib.sha256(rows.astype("<f4").tobytes()).hexdigest(),
            "torchRuns": runs,
            "torchMeanTestNll": round(float(nlls.mean()), 6),
            "torchSeedStd": round(float(nlls.std(ddof=1)), 6) if len(nlls) > 1 else 0.0,
            "trueTestNll": None if truth is None else round(truth, 6),
        }
    document = {
        "generator": f"tools/reference/fit_reference.py (PyTorch {torch.__version__}, float32)",
        "dataSeed": DATA_SEED,
        "train": TRAIN, "validation": VALIDATION, "test": TEST,
        "training": TRAINING,
        "sets": results,
    }
    if os.path.exists(args.out) and set(args.sets) != set(SETS):
        # --sets reruns some sets (several processes may run one set each) and keeps the others,
        # which must then come from the same data and training settings.
        with open(args.out) as f:
            previous = json.load(f)
        for key in ("dataSeed", "train", "validation", "test", "training"):
            if previous[key] != document[key]:
                raise SystemExit(f"{args.out} was made with another {key}; rerun every set")
        document["sets"] = {**previous["sets"], **results}
    with open(args.out, "w") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
