"""How much of a Fashion-MNIST test mean is a few images: reads the per-image test bits/dim that
`torch_image_parity.py --train-all --per-image FILE.npy` saves (any --init: engine-final scores the engine's own
weights), and prints the mean, the median, the worst images and the mean of p = (1 - e) p_flow + e U[0,256)^784.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/torch_image_parity.py EXPORT --train-all --init engine-final --test 10000 --per-image engine.npy
    /usr/bin/python3 bench/image_test_tails.py engine.npy ...

The uniform density on the dequantized cube is 8 bits/dim, so the mixture caps any image near 8 + log2(1/e)/784 bits/dim
and costs a typical image log2(1/(1-e))/784 (2e-6 bits/dim at e = 0.001).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_image_parity import DEFENSIVE_WEIGHT as E, with_uniform_component  # noqa: E402


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        bits = np.load(path)
        worst = np.argsort(-bits)[:5]
        print(f"{path}: mean {bits.mean():.4f}, median {np.median(bits):.4f}, images above 8 bits/dim {(bits > 8).sum()}, "
              f"worst {[(int(i), round(float(bits[i]), 1)) for i in worst]}; with a uniform component at e = {E}: "
              f"{with_uniform_component(bits).mean():.4f}")


if __name__ == "__main__":
    main()
