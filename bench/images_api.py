"""Fashion-MNIST through the running service's HTTP API (bench/run_images_api.sh starts the service and calls this):
  1. uploads the first --train training images as a uint8 .npy shaped (N, 28, 28) (an image dataset);
  2. queues a job with the given flow and training JSON, waits for it, and reports its per-epoch NLLs and images/s;
  3. scores the first --test test images through POST /score as a float32 .npy of x + u (u ~ U[0, 1), seed 123, one
     draw per image), in chunks, and reports their mean bitsPerDim as the service computed it;
  4. fits the per-pixel independent 256-bin histogram (add-one smoothing) on all uploaded training images (a superset
     of the images the job trained on: it holds out its validation share) and reports its test bits/dim;
  5. fetches /sample as uint8 .npy (checked: shape and agreement with the JSON samples) and as a PNG grid (--png).
Uses only the standard library and NumPy. Prints one JSON object per line.
"""
import argparse
import gzip
import io
import json
import math
import sys
import time
import urllib.error
import urllib.request

import numpy as np


def load(path, count):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n, h, w = (int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, h, w)[:count]


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def call(url, method="GET", body=None, content_type=None, accept=None):
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=3600) as response:
            return response.read()
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {url}: HTTP {e.code}: {e.read()[:2000].decode(errors='replace')}")


def emit(metric, value, unit, note):
    print(json.dumps({"bench": "fashion_mnist_api", "impl": "flowservice", "metric": metric, "value": value, "unit": unit, "note": note}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://localhost:5077")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--test", type=int, default=10000)
    parser.add_argument("--flow", default='{"type":"realnvp"}')
    parser.add_argument("--training", default='{"epochs":5}')
    parser.add_argument("--png", default="")
    args = parser.parse_args()

    train = load(f"{args.data}/train-images-idx3-ubyte.gz", args.train)
    test = load(f"{args.data}/t10k-images-idx3-ubyte.gz", args.test)
    dataset = json.loads(call(f"{args.url}/datasets?name=fashion{args.train}", "POST", npy_bytes(train), "application/x-npy"))
    job = json.loads(call(f"{args.url}/jobs", "POST", json.dumps({
        "datasetId": dataset["id"], "model": "fashion", "flow": json.loads(args.flow), "training": json.loads(args.training),
    }).encode(), "application/json"))
    print(json.dumps({"job": job["id"], "flow": job["flow"], "training": job["training"]}), flush=True)
    while job["state"] not in ("succeeded", "failed", "cancelled"):
        time.sleep(5)
        job = json.loads(call(f"{args.url}/jobs/{job['id']}"))
    d = 28 * 28
    bits = [nll / (d * math.log(2)) for nll in job["trainNll"]]
    valid = [nll / (d * math.log(2)) for nll in job["validationNll"]]
    emit("job_state", job["state"], "", job.get("error") or f"version {job.get('modelVersion')}")
    emit("job_seconds", job["elapsedSeconds"], "s", f"{job['epoch']} epochs; train bits/dim per epoch {[round(b, 4) for b in bits]}, "
         f"validation {[round(b, 4) for b in valid]}")
    emit("train_images_per_s", job.get("samplesPerSecond"), "images/s", "the job's last epoch")
    if job["state"] != "succeeded":
        sys.exit(1)

    noisy = test.astype(np.float32) + np.random.default_rng(123).random(test.shape, dtype=np.float32)
    scores, started = [], time.perf_counter()
    for start in range(0, len(noisy), 2000):
        answer = json.loads(call(f"{args.url}/score?model=fashion", "POST", npy_bytes(noisy[start:start + 2000]), "application/x-npy"))
        scores.extend(answer["bitsPerDim"])
    seconds = time.perf_counter() - started
    emit("test_bits_per_dim", float(np.mean(scores)), "bits/dim", f"{len(scores)} test images + U[0,1) noise (seed 123), POST /score .npy")
    version = json.loads(call(f"{args.url}/models/fashion/versions/{job['modelVersion']}"))
    emit("defensive_weight", version["metrics"].get("defensiveWeight"), "",
         "the uniform component's weight in the served density, chosen on the validation images")
    worst = np.argsort(scores)[-3:][::-1]
    emit("worst_test_images", [(int(i), round(float(scores[i]), 3)) for i in worst], "bits/dim",
         "the three highest-scoring test images (index, bits/dim); 8 + log2(1/weight)/784 is the served density's cap")
    emit("score_images_per_s_http", len(scores) / seconds, "images/s", "POST /score in chunks of 2,000 (HTTP, .npy bodies)")

    counts = np.zeros((d, 256))
    flat = train.reshape(len(train), d)
    for j in range(d):
        counts[j] = np.bincount(flat[:, j], minlength=256)
    p = (counts + 1) / (len(train) + 256)
    test_flat = test.reshape(len(test), d)
    histogram = -np.log2(p[np.arange(d)[None, :], test_flat]).mean()
    emit("histogram_bits_per_dim", float(histogram), "bits/dim", f"per-pixel independent histogram (add-one) fitted on all {len(train)} uploaded images")
    emit("gain_over_histogram", float(histogram - np.mean(scores)), "bits/dim", "histogram minus flow (goal: at least 0.6)")

    raw = call(f"{args.url}/sample?model=fashion&n=16&seed=5&temperature=0.7", accept="application/x-npy")
    samples = np.load(io.BytesIO(raw))
    rows = json.loads(call(f"{args.url}/sample?model=fashion&n=16&seed=5&temperature=0.7"))["rows"]
    expected = np.clip(np.floor(np.array(rows, dtype=np.float64)), 0, 255).astype(np.uint8).reshape(16, 28, 28)
    emit("sample_npy", f"{samples.dtype} {samples.shape}", "", f"equal to the JSON samples floored: {bool((samples == expected).all())}")
    if args.png:
        with open(args.png, "wb") as f:
            f.write(call(f"{args.url}/sample?model=fashion&n=64&seed=5&temperature=0.7", accept="image/png"))
        emit("samples_png", args.png, "", "64 samples at temperature 0.7, GET /sample Accept: image/png")


if __name__ == "__main__":
    main()
