"""System.Random(seed) of .NET (the seeded, Knuth subtractive generator that .NET keeps for
compatibility), so that the reference draws the same random permutations as a C# flow built with
that seed (Permutation.Random: Fisher-Yates with Next(i + 1), i from D-1 down to 1)."""

MBIG = 2147483647
MSEED = 161803398


class DotnetRandom:
    def __init__(self, seed):
        seed_array = [0] * 56
        subtraction = MBIG if seed == -2147483648 else abs(seed)
        mj = MSEED - subtraction
        seed_array[55] = mj
        mk = 1
        ii = 0
        for _ in range(1, 55):
            ii += 21
            if ii >= 55:
                ii -= 55
            seed_array[ii] = mk
            mk = mj - mk
            if mk < 0:
                mk += MBIG
            mj = seed_array[ii]
        for _ in range(1, 5):
            for i in range(1, 56):
                n = i + 30
                if n >= 55:
                    n -= 55
                seed_array[i] -= seed_array[1 + n]
                # C# int arithmetic: the difference of two values in [0, MBIG] fits an int.
                if seed_array[i] < 0:
                    seed_array[i] += MBIG
        self.seed_array, self.inext, self.inextp = seed_array, 0, 21

    def _internal_sample(self):
        inext = self.inext + 1
        if inext >= 56:
            inext = 1
        inextp = self.inextp + 1
        if inextp >= 56:
            inextp = 1
        value = self.seed_array[inext] - self.seed_array[inextp]
        if value == MBIG:
            value -= 1
        if value < 0:
            value += MBIG
        self.seed_array[inext] = value
        self.inext, self.inextp = inext, inextp
        return value

    def next(self, max_value):
        return int(self._internal_sample() * (1.0 / MBIG) * max_value)

    def permutation(self, n):
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.next(i + 1)
            order[i], order[j] = order[j], order[i]
        return order
