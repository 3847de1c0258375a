"""Where inside a pixel's unit cell an image is scored, and how much it matters: loads the engine's final weights from
a `FlowService.Bench image-parity` export into the PyTorch reference model and scores the 10,000 Fashion-MNIST test
images at the cell corners (x, the integer pixels, as a job's validation metrics and anomaly calibration do), at the
cell centres (x + 0.5, as the README advises clients) and with one draw of dequantization noise (x + u, the bound).

    dotnet bench/FlowService.Bench/bin/Release/net10.0/FlowService.Bench.dll image-parity --steps 922 --seed 3 --schedule cosine --verify false --out c3.safetensors
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/image_score_points.py c3.safetensors
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "reference"))
import safetensors_io  # noqa: E402
import torch_images  # noqa: E402
from torch_image_parity import build, load, with_uniform_component  # noqa: E402


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    torch.set_num_threads(1)
    tensors, metadata = safetensors_io.read(sys.argv[1])
    spec, steps = json.loads(metadata["spec"]), int(metadata["steps"])
    flow = build(spec, torch.float32)
    load(flow, tensors, f"after{steps}.")
    test = torch.from_numpy(torch_images.load("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", 10000)).float()
    d = test.shape[1]
    noise = torch.rand(test.shape, generator=torch.Generator().manual_seed(123))
    for name, x in [("corners x", test), ("centres x + 0.5", test + 0.5), ("noise x + u", test + noise)]:
        with torch.no_grad():
            log_prob = torch.cat([flow.log_prob(chunk) for chunk in x.split(200)])
        bits = (-log_prob / (d * math.log(2))).double().numpy()
        print(f"{name:16s} median {np.median(bits):.4f}, 95th percentile {np.quantile(bits, 0.95):.3f}, "
              f"99th {np.quantile(bits, 0.99):.3f}, served mean (uniform component, e = 0.001) {with_uniform_component(bits, d).mean():.4f}")


if __name__ == "__main__":
    main()
