"""Reads bench/quality_seed_ensemble.sh's folder: per seed, each held-out row's served log p of the default job.
Prints each seed's held-out mean log p (or anomaly AUROC of -log p) and the equal-weight ensemble's over all seeds
and over the first k seeds, beside the best classical estimator's figure (bench/RESULTS.md, issue 11)."""
import glob
import os
import sys

import numpy as np
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score

BEST_LOG_P = {"iris": -1.897, "wine": -19.105, "diabetes": -26.636, "breast_cancer": 38.887, "digits": -120.088}
BEST_AUROC = {"breast_cancer": 0.9767, "digits": 0.9758}
NORMAL = {"breast_cancer": {1}, "digits": {0, 1, 2, 3, 4}}


def ensemble(rows):
    return logsumexp(rows, axis=0) - np.log(len(rows))


def main(folder):
    for kind in ("plain", "anomaly"):
        seeds = sorted(glob.glob(os.path.join(folder, kind, "s*")), key=lambda s: int(s.rsplit("s", 1)[1]))
        for name in BEST_LOG_P if kind == "plain" else BEST_AUROC:
            rows = np.array([np.loadtxt(os.path.join(s, name + ".txt")) for s in seeds if os.path.exists(os.path.join(s, name + ".txt"))])
            if len(rows) == 0:
                continue
            if kind == "plain":
                singles = [r.mean() for r in rows]
                prefix = [ensemble(rows[:k]).mean() for k in range(1, len(rows) + 1)]
                print(f"{name:14s} mean log p per seed {' '.join(f'{v:.3f}' for v in singles)}; mean {np.mean(singles):.3f} "
                      f"sd {np.std(singles, ddof=1):.3f}; ensemble of the first k: {' '.join(f'{v:.3f}' for v in prefix)}; "
                      f"best classical {BEST_LOG_P[name]}")
            else:
                labels = np.loadtxt(os.path.join(folder, "dump", f"{name}_anomaly_testlabels.csv"))
                anomalous = np.array([label not in NORMAL[name] for label in labels])
                singles = [roc_auc_score(anomalous, -r) for r in rows]
                prefix = [roc_auc_score(anomalous, -ensemble(rows[:k])) for k in range(1, len(rows) + 1)]
                print(f"{name:14s} AUROC per seed {' '.join(f'{v:.4f}' for v in singles)}; mean {np.mean(singles):.4f}; "
                      f"ensemble of the first k: {' '.join(f'{v:.4f}' for v in prefix)}; best classical {BEST_AUROC[name]}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/quality-seeds")
