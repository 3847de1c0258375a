"""GaussianMixture (full covariance, components by 5-fold CV), Gaussian KDE (bandwidth by CV) and the full-covariance
Gaussian fitted on exactly the rows a FlowService job trains on (the suite's training part minus the job's default
10% validation and 10% test rows), scored on the suite's held-out rows, with density_baselines.py's protocol.

    QUALITY_DUMP=/tmp/qd dotnet bench/FlowService.Quality/bin/Release/net10.0/FlowService.Quality.dll '{"type":"gaussian"}' iris,wine,breast_cancer,diabetes,digits
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/reference/job_split_baselines.py /tmp/qd iris,wine,breast_cancer,diabetes,digits
"""
import sys

import numpy as np

from density_baselines import scores


def main():
    folder, names = sys.argv[1], sys.argv[2].split(",")
    for name in names:
        train = np.loadtxt(f"{folder}/{name}_jobtrain.csv", delimiter=",", ndmin=2)
        test = np.loadtxt(f"{folder}/{name}_test.csv", delimiter=",", ndmin=2)
        s = scores(train, test)
        print(f"{name:<14} rows {len(train):5d}  gaussian {s['gaussian']['logLik'].mean():9.3f}  "
              f"gmm {s['gmm']['logLik'].mean():9.3f} (k={s['gmm']['components']})  kde {s['kde']['logLik'].mean():9.3f}", flush=True)


if __name__ == "__main__":
    main()
