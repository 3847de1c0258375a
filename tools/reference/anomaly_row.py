"""How far one scored row of a class-held-out anomaly split lies from the normal classes' training rows.

    /usr/bin/python3 anomaly_row.py breast_cancer 238

Prints the row's label, its largest |z| over the columns and the columns furthest out, and its squared Mahalanobis
distance under the Gaussian fitted to the normal training rows, beside the chi-square median for that many columns and
the same distance of the scored normal rows: whether a density could call the row unusual at all.
"""
import sys

import numpy as np
from scipy.stats import chi2

import real_datasets


def main(name, row):
    train, scored, positive = real_datasets.anomaly_split(name)
    x = scored[row]
    mean, sd = train.mean(0), train.std(0)
    z = (x - mean) / sd
    print(f"{name} scored row {row}: {'anomaly' if positive[row] else 'normal'}; largest |z| {np.abs(z).max():.2f}")
    for j in np.argsort(-np.abs(z))[:5]:
        print(f"  column {j:3d}: {x[j]:.6g} (z {z[j]:+.2f})")
    precision = np.linalg.inv(np.cov(train, rowvar=False))
    distance = np.einsum("ij,jk,ik->i", scored - mean, precision, scored - mean)
    normal = distance[~positive]
    print(f"squared Mahalanobis distance {distance[row]:.1f}; chi-square({train.shape[1]}) median {chi2.median(train.shape[1]):.1f}; "
          f"scored normal rows: median {np.median(normal):.1f}, {int((normal > distance[row]).sum())} of {normal.size} further out; "
          f"scored anomalies: median {np.median(distance[positive]):.1f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
