"""scikit-learn's full-covariance GaussianMixture by number of components on a suite set's anomaly split: fitted to the
training rows of the normal classes (standardized, as density_baselines.py fits), it prints each K's mean log p (data
units) of the held-out normal rows and of the anomalous rows it never trained on (real_datasets.anomaly_split), and the
AUROC of -log p. The third pass of issue 11 in bench/RESULTS.md read from it (then over the held-out anomalies only)
how far apart a mixture's clusters put the anomalies.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/reference/anomaly_gmm_by_components.py digits 1,2,3,4,5,6
"""
import sys

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture

import real_datasets


def main():
    name, components = sys.argv[1], [int(k) for k in sys.argv[2].split(",")]
    normal_train, test, anomaly = real_datasets.anomaly_split(name)
    x = normal_train.astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std <= 1e-12] = 1.0
    for k in components:
        gmm = GaussianMixture(k, covariance_type="full", random_state=0, max_iter=300).fit((x - mean) / std)
        log_p = gmm.score_samples((test - mean) / std) - np.log(std).sum()
        print(f"{name} K={k}: normal {log_p[~anomaly].mean():9.2f}  anomalies {log_p[anomaly].mean():9.2f}  "
              f"AUROC {roc_auc_score(anomaly, -log_p):.4f}", flush=True)


if __name__ == "__main__":
    main()
