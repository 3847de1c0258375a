"""The draws of .NET's seeded System.Random (`new Random(seed)`: Knuth's subtractive generator,
the algorithm .NET keeps for seeded instances) and the engine's Fisher-Yates permutation
(src/FlowService.Model/Transforms/Permutation.cs, Permutation.Random). The engine's recipes take
their fixed random permutations from `new Random(seed)`; a reference flow that must hold the
same fixed permutations (Glow's LU layers) draws them here from the same seed."""

MBIG = 2 ** 31 - 1
MSEED = 161803398


class DotNetRandom:
    def __init__(self, seed):
        subtraction = MBIG if seed == -2 ** 31 else abs(seed)
        self.seeds = [0] * 56
        mj = MSEED - subtraction
        self.seeds[55] = mj
        mk = 1
        ii = 0
        for _ in range(1, 55):
            ii += 21
            if ii >= 55:
                ii -= 55
            self.seeds[ii] = mk
            mk = mj - mk
            if mk < 0:
                mk += MBIG
            mj = self.seeds[ii]
        for _ in range(4):
            for i in range(1, 56):
                n = i + 30
                if n >= 55:
                    n -= 55
                self.seeds[i] -= self.seeds[1 + n]
                if self.seeds[i] < 0:
                    self.seeds[i] += MBIG
        self.inext = 0
        self.inextp = 21

    def _internal_sample(self):
        inext = self.inext + 1
        if inext >= 56:
            inext = 1
        inextp = self.inextp + 1
        if inextp >= 56:
            inextp = 1
        value = self.seeds[inext] - self.seeds[inextp]
        if value == MBIG:
            value -= 1
        if value < 0:
            value += MBIG
        self.seeds[inext] = value
        self.inext, self.inextp = inext, inextp
        return value

    def next(self, max_value):
        """Random.Next(maxValue): an int in [0, maxValue)."""
        return int(self._internal_sample() * (1.0 / MBIG) * max_value)


def permutation(features, random):
    """Permutation.Random(features, random): Fisher-Yates from the last position down."""
    order = list(range(features))
    for i in range(features - 1, 0, -1):
        j = random.next(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


class DotnetRandom(DotNetRandom):
    """The name tools/reference/make_image_fixtures.py uses, with the permutation as a method."""

    def permutation(self, n):
        return permutation(n, self)
