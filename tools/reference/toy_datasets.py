"""The 2-D toy sets of tests/FlowService.Training.Tests/Fitting/ToyDatasets.cs, line for line:
same draws from PortableRandom in the same order, in double, rounded to float32."""
import math

import numpy as np

from portable_random import PortableRandom

NAMES = ["two-moons", "checkerboard", "8-gaussians"]

_S = math.sqrt(0.5)
EIGHT_CENTRES = [(1, 0), (_S, _S), (0, 1), (-_S, _S), (-1, 0), (-_S, -_S), (0, -1), (_S, -_S)]
EIGHT_RADIUS, EIGHT_STD = 4.0 / 1.414, 0.5 / 1.414


def two_moons(random):
    moon = random.next_int(2)
    t = math.pi * random.next_double()
    x = math.cos(t) if moon == 0 else 1.0 - math.cos(t)
    y = math.sin(t) if moon == 0 else 0.5 - math.sin(t)
    x += 0.1 * random.next_normal()
    y += 0.1 * random.next_normal()
    return x, y


def checkerboard(random):
    x = 4.0 * random.next_double() - 2.0
    y = random.next_double() - 2.0 * random.next_int(2)
    y += math.floor(x) % 2
    return 2.0 * x, 2.0 * y


def eight_gaussians(random):
    cx, cy = EIGHT_CENTRES[random.next_int(8)]
    x = 4.0 * cx + 0.5 * random.next_normal()
    y = 4.0 * cy + 0.5 * random.next_normal()
    return x / 1.414, y / 1.414


GENERATORS = {"two-moons": two_moons, "checkerboard": checkerboard, "8-gaussians": eight_gaussians}


def generate(name, rows, seed):
    """rows x 2 float32, bit-identical to ToyDatasets.Generate(name, rows, seed)."""
    random = PortableRandom(seed)
    point = GENERATORS[name]
    values = np.empty((rows, 2), dtype=np.float64)
    for r in range(rows):
        values[r] = point(random)
    return values.astype(np.float32)


def eight_gaussians_log_density(x):
    """Exact log density of eight_gaussians at rows x (n x 2, float64)."""
    centres = EIGHT_RADIUS * np.array(EIGHT_CENTRES, dtype=np.float64)
    d2 = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    terms = -d2 / (2 * EIGHT_STD ** 2)
    top = terms.max(1)
    return top + np.log(np.exp(terms - top[:, None]).sum(1) / 8) - math.log(2 * math.pi * EIGHT_STD ** 2)
