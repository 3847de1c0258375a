"""Per-image test bits/dim of Fashion-MNIST image flows, to see how much of a 10,000-image mean is a few images.

    # the engine's final weights of an image-parity export, scored by torch_image_parity.py's code and noise draw
    /usr/bin/python3 bench/image_test_tails.py engine EXPORT.safetensors OUT.npy
    # PyTorch trained as torch_image_parity.py --train-all trains it (--init engine|torch, --batches engine|torch)
    /usr/bin/python3 bench/image_test_tails.py torch EXPORT.safetensors --init engine --batches engine OUT.npy
    # mean, median, worst images, and the mean of p = (1 - e) p_flow + e U[0,256)^784 (e = 0.001)
    /usr/bin/python3 bench/image_test_tails.py report OUT.npy...

The uniform density on the dequantized cube is 8 bits/dim, so the mixture caps any image near 8 + log2(1/e)/784 bits/dim
and costs a typical image log2(1/(1-e))/784 (2e-6 bits/dim at e = 0.001).
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
import torch_image_parity  # noqa: E402
import torch_images  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
D = 784


def per_image(flow, dtype, images=10000):
    """-log2 p / D of each test image, with torch_image_parity.py's noise draw (seed 123)."""
    test = torch.from_numpy(torch_images.load(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"), images)).to(dtype)
    noisy = test + torch.rand(test.shape, generator=torch.Generator().manual_seed(123)).to(dtype)
    with torch.no_grad():
        log_prob = torch.cat([flow.log_prob(chunk) for chunk in noisy.split(100)]).double().numpy()
    return -log_prob / (test.shape[1] * math.log(2))


def capped(bpd, e=1e-3):
    return -np.logaddexp(np.log(1 - e) - bpd * D * np.log(2), np.log(e) - 8 * D * np.log(2)) / (D * np.log(2))


def main():
    mode = sys.argv[1]
    if mode == "engine":
        tensors, metadata = safetensors_io.read(sys.argv[2])
        flow = torch_image_parity.build(__import__("json").loads(metadata["spec"]), torch.float32)
        torch_image_parity.load(flow, tensors, f"after{metadata['steps']}.")
        np.save(sys.argv[3], per_image(flow, torch.float32))
    elif mode == "torch":
        out = sys.argv.pop()

        def save(flow, args, dtype):
            bpd = per_image(flow, dtype, args.test)
            np.save(out, bpd)
            return float(bpd.mean())

        torch_image_parity.test_bits_per_dim = save
        sys.argv = [sys.argv[0]] + sys.argv[2:] + ["--train-all", "--test", "10000"]
        torch_image_parity.main()
    elif mode == "report":
        for path in sys.argv[2:]:
            bpd = np.load(path)
            worst = np.argsort(-bpd)[:5]
            print(f"{path}: mean {bpd.mean():.4f}, median {np.median(bpd):.4f}, images above 8 bits/dim {(bpd > 8).sum()}, "
                  f"worst {[(int(i), round(float(bpd[i]), 1)) for i in worst]}; with a uniform component at e = 0.001: {capped(bpd).mean():.4f}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
