"""Issue 11, fifth pass: two densities that know the digits' unit grid, prototyped offline on the rows a FlowService job sees.

The suite dequantizes digits' integer pixels (0-16) with uniform noise, so the true density is constant on each unit cell
[n, n+1)^64. Neither is a flow; they measure what a density built for that structure gains in likelihood and whether it
ranks the class-held-out anomalies (digits 5-9) as well as scikit-learn's GMM (AUROC 0.9758):

- "copula": a mixture of K Gaussian copulas, each over its own per-pixel histograms on the unit grid (piecewise-constant
  marginal density, Laplace-smoothed by alpha rows), normal scores u = Phi^-1(F_k(x)), a full Gaussian on u shrunk toward
  its diagonal by lam; soft EM (10 steps) from a GaussianMixture start on standardized rows. K = 1 is one copula: the
  grid-exact version of a one-block Gaussianization flow. A mixture of flows, each with its own marginals.
- "latent-class": a mixture of K products of per-pixel histograms on the unit grid (a latent class model: pixels
  independent given the class), EM from k-means, Dirichlet smoothing alpha per cell.

Every setting is fitted on the job's training rows and scored on its validation rows; the setting with the best
validation NLL is the one a validation-chosen search would serve, and only its held-out figures should be read as such.

    QUALITY_DUMP=/tmp/qd dotnet bench/FlowService.Quality/bin/Release/net10.0/FlowService.Quality.dll '{"type":"gaussian"}' digits:anomaly,digits
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/reference/grid_density_prototypes.py /tmp/qd digits_anomaly latent-class 5:0.5 10:0.5 20:0.1
"""
import sys

import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.cluster import KMeans
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture

LEVELS = 17  # digits' pixels are 0..16 before dequantization


def cells(x):
    return np.floor(x).astype(int).clip(0, LEVELS - 1)


def copula_mixture(train, k, lam, alpha, steps=10):
    n, d = train.shape
    grid = cells(train)

    def component(w):
        w = w / w.sum()
        p = np.stack([np.bincount(grid[:, j], weights=w, minlength=LEVELS) for j in range(d)]) + alpha / n
        p /= p.sum(1, keepdims=True)
        starts = np.concatenate([np.zeros((d, 1)), np.cumsum(p, 1)], 1)

        def marginal(x):
            c = cells(x)
            density = p[np.arange(d), c]
            cdf = starts[np.arange(d), c] + (x - c) * density
            return np.log(density).sum(1), norm.ppf(np.clip(cdf, 1e-7, 1 - 1e-7))

        _, u = marginal(train)
        mean = (w[:, None] * u).sum(0)
        cov = ((u - mean).T * w) @ (u - mean)
        cov = (1 - lam) * cov + lam * np.diag(np.diag(cov)) + 1e-3 * np.eye(d)
        chol = np.linalg.cholesky(cov)
        half_log_det = np.log(np.diag(chol)).sum()

        def log_density(x):
            log_marginal, u = marginal(x)
            y = np.linalg.solve(chol, (u - mean).T).T
            return -0.5 * (y ** 2).sum(1) - half_log_det - 0.5 * d * np.log(2 * np.pi) + log_marginal - norm.logpdf(u).sum(1)

        return log_density

    if k == 1:
        resp = np.ones((n, 1))
    else:
        z = (train - train.mean(0)) / (train.std(0) + 1e-9)
        resp = GaussianMixture(k, covariance_type="full", reg_covar=1e-3, random_state=0, n_init=4).fit(z).predict_proba(z)
    for _ in range(steps + 1):
        weights = resp.mean(0)
        parts = [component(resp[:, i]) for i in range(k)]
        joint = np.stack([np.log(weights[i]) + parts[i](train) for i in range(k)], 1)
        resp = np.exp(joint - logsumexp(joint, 1, keepdims=True))
    return lambda x: logsumexp(np.stack([np.log(weights[i]) + parts[i](x) for i in range(k)], 1), 1)


def latent_class(train, k, alpha, steps=100):
    onehot = np.eye(LEVELS)[cells(train)]
    resp = np.eye(k)[KMeans(k, n_init=4, random_state=0).fit(train).labels_]
    for _ in range(steps):
        weights = resp.mean(0) + 1e-12
        table = np.einsum("nk,ndl->kdl", resp, onehot) + alpha
        log_table = np.log(table / table.sum(2, keepdims=True))
        joint = np.log(weights) + np.einsum("ndl,kdl->nk", onehot, log_table)
        resp = np.exp(joint - logsumexp(joint, 1, keepdims=True))
    return lambda x: logsumexp(np.log(weights) + np.einsum("ndl,kdl->nk", np.eye(LEVELS)[cells(x)], log_table), 1)


def main():
    folder, stem, kind = sys.argv[1], sys.argv[2], sys.argv[3]
    load = lambda part: np.loadtxt(f"{folder}/{stem}_{part}.csv", delimiter=",", ndmin=2)
    train, validation, test = load("jobtrain"), load("jobvalidation"), load("test")
    labels = np.loadtxt(f"{folder}/{stem}_testlabels.csv").astype(int)
    anomaly = labels >= 5 if stem.endswith("_anomaly") else None
    results = []
    for setting in sys.argv[4:]:
        values = [float(v) for v in setting.split(":")]
        density = copula_mixture(train, int(values[0]), values[1], values[2]) if kind == "copula" else latent_class(train, int(values[0]), values[1])
        v, t = density(validation), density(test)
        line = f"{kind} {setting:<12} validation NLL {-v.mean():8.2f}  held-out mean log p {t.mean():8.2f}"
        if anomaly is not None:
            line += f"  normals {t[~anomaly].mean():8.2f}  anomalies {t[anomaly].mean():8.2f}  AUROC {roc_auc_score(anomaly, -t):.4f}"
        print(line, flush=True)
        results.append((-v.mean(), line))
    print("chosen on validation:", min(results)[1])


if __name__ == "__main__":
    main()
