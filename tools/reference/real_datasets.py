"""The real-data quality suite's datasets, bit for bit as tests/Shared/RealDatasets.cs builds them.

Each set is read from files that Debian packages install (python3-sklearn's bundled CSVs,
dataset-fashion-mnist's IDX files), dequantized, shuffled and cut into a training part (80%) and a
held-out part (20%) with tools/reference/portable_random.py's SplitMix64, so the C# side and this
script see the same float32 rows without shipping any data:

  * every column is recorded at a finite resolution r = 10^-k (the smallest k in 0..6 for which every
    value is a multiple of 10^-k); the suite adds u * r, u ~ U[0, 1) drawn row-major from
    PortableRandom(seed), so every set has a density (digits' pixels, diabetes' sex and age, iris'
    0.1 cm grid) and nobody can win by putting spikes on repeated values;
  * the rows are then permuted by a Fisher-Yates shuffle driven by the same generator and the first
    80% train, the rest are held out;
  * Fashion-MNIST (the set of at least 50,000 rows): the 70,000 images (train then t10k files),
    each summed over 4x4 pixel blocks to 7x7 = 49 integer columns (0..4080, so r = 1).
The class label of each row travels beside the features (for the class-held-out anomaly splits).
"""
import gzip
import math
import os
import struct

import numpy as np

from portable_random import PortableRandom

SKLEARN_DATA = "/usr/lib/python3/dist-packages/sklearn/datasets/data"
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
TEST_FRACTION = 0.2


def _sklearn_csv(name, label_column=True):
    with open(os.path.join(SKLEARN_DATA, name)) as f:
        lines = f.read().strip().split("\n")
    rows = [[float(v) for v in line.split(",")] for line in lines[1:]]
    data = np.array(rows, dtype=np.float64)
    return (data[:, :-1], data[:, -1].astype(int)) if label_column else (data, None)


def _gz_rows(name, separator):
    with gzip.open(os.path.join(SKLEARN_DATA, name), "rt") as f:
        lines = [l for l in f.read().strip().split("\n") if l.strip()]
    return np.array([[float(v) for v in (l.split(separator) if separator else l.split())] for l in lines], dtype=np.float64)


def _idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def _fashion_mnist_pooled():
    images = np.concatenate([_idx(os.path.join(FASHION_MNIST, "train-images-idx3-ubyte.gz")),
                             _idx(os.path.join(FASHION_MNIST, "t10k-images-idx3-ubyte.gz"))])
    labels = np.concatenate([_idx(os.path.join(FASHION_MNIST, "train-labels-idx1-ubyte.gz")),
                             _idx(os.path.join(FASHION_MNIST, "t10k-labels-idx1-ubyte.gz"))])
    sums = images.reshape(-1, 7, 4, 7, 4).astype(np.int64).sum(axis=(2, 4)).reshape(-1, 49)
    return sums.astype(np.float64), labels.astype(int)


def resolution(column):
    for k in range(0, 7):
        scaled = column * (10.0 ** k)
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled))):
            return 10.0 ** -k
    return 0.0


# name -> (loader, seed, classes treated as normal in the anomaly split or None)
DATASETS = {
    "iris": (lambda: _sklearn_csv("iris.csv"), 11, [0, 1]),
    "wine": (lambda: _sklearn_csv("wine_data.csv"), 12, [0, 1]),
    "breast_cancer": (lambda: _sklearn_csv("breast_cancer.csv"), 13, [1]),
    "diabetes": (lambda: (_gz_rows("diabetes_data_raw.csv.gz", None), None), 14, None),
    "digits": (lambda: (lambda d: (d[:, :-1], d[:, -1].astype(int)))(_gz_rows("digits.csv.gz", ",")), 15, [0, 1, 2, 3, 4]),
    "fashion_mnist_7x7": (_fashion_mnist_pooled, 16, [0, 1, 2, 3, 4]),
}


def load(name):
    """(train float32, test float32, train labels, test labels, resolutions) of a suite dataset."""
    loader, seed, _ = DATASETS[name]
    x, labels = loader()
    rows, cols = x.shape
    random = PortableRandom(seed)
    res = np.array([resolution(x[:, j]) for j in range(cols)])
    # Python-level loop over a flat array: the generator is sequential (row-major), like the C# twin.
    noise = np.array([random.next_double() for _ in range(rows * cols)], dtype=np.float64).reshape(rows, cols)
    x = (x + noise * res).astype(np.float32)
    order = list(range(rows))
    for i in range(rows - 1, 0, -1):
        j = random.next_int(i + 1)
        order[i], order[j] = order[j], order[i]
    order = np.array(order)
    n_test = int(round(rows * TEST_FRACTION))
    train, test = order[: rows - n_test], order[rows - n_test:]
    lab = labels if labels is not None else np.zeros(rows, dtype=int)
    return x[train], x[test], lab[train], lab[test], res


def anomaly_split(name, loaded=None):
    """(training rows of the normal classes, rows to score, positive per scored row) of a set's class-held-out anomaly split;
    `loaded` is load(name)'s result where the caller has it already (the shuffle is a Python loop: seconds on large sets).

    The scored rows are every row the model never trains on: the held-out rows of every class (normal ones are the
    negatives), then the training rows of the other classes, which the split leaves out of training and which are
    therefore as unseen as the held-out ones. Counting them gives the AUROC about five times the (anomaly, normal) pairs
    of the held-out rows alone (breast cancer: 212 malignant rows instead of 43), so it measures ranking, not the
    luck of a few rows. The negatives stay the held-out normal rows: every other normal row is trained on.
    """
    train, test, train_labels, test_labels, _ = loaded if loaded is not None else load(name)
    normal = DATASETS[name][2]
    keep = np.isin(train_labels, normal)
    scored = np.concatenate([test, train[~keep]])
    positive = np.concatenate([~np.isin(test_labels, normal), np.ones(int((~keep).sum()), dtype=bool)])
    return train[keep], scored, positive
