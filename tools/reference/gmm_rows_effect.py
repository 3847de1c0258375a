"""How much of a small set's held-out log-likelihood is the number of training rows: the suite's CV'd GaussianMixture
(full covariance, fixed K) refitted on random subsets of n of the training rows (20 subsets each), scored on the suite's
held-out rows, mean and std. A FlowService job on iris trains on 96 rows (or 108 with the cross-validated refit): this is
what the same GMM scores with that many rows.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/reference/gmm_rows_effect.py iris 2 96,108,120
"""
import sys

import numpy as np
from sklearn.mixture import GaussianMixture

import real_datasets


def main():
    name, k, sizes = sys.argv[1], int(sys.argv[2]), [int(n) for n in sys.argv[3].split(",")]
    train, test, _, _, _ = real_datasets.load(name)
    for n in sizes:
        scores = []
        for seed in range(20):
            x = train[np.random.default_rng(seed).choice(len(train), n, replace=False)]
            mean, std = x.mean(axis=0), x.std(axis=0)
            gmm = GaussianMixture(k, covariance_type="full", random_state=0).fit((x - mean) / std)
            scores.append((gmm.score_samples((test - mean) / std) - np.log(std).sum()).mean())
        print(f"{name} k={k} rows {n:5d}: held-out mean log p {np.mean(scores):8.3f} (std over subsets {np.std(scores):.3f})", flush=True)


if __name__ == "__main__":
    main()
