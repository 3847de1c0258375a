"""SplitMix64 with Box-Muller normals in double: the Python twin of
tests/Shared/PortableRandom.cs, line for line, so that the fitting
tests and tools/reference/fit_reference.py generate bit-identical rows."""
import math

MASK = (1 << 64) - 1


class PortableRandom:
    def __init__(self, seed):
        self.state = seed & MASK

    def next_uint64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def next_double(self):
        """Uniform on [0, 1): the top 53 bits times 2^-53."""
        return (self.next_uint64() >> 11) * (1.0 / (1 << 53))

    def next_int(self, n):
        return int(self.next_double() * n)

    def next_normal(self):
        """Box-Muller, the cosine branch only."""
        u1 = 1.0 - self.next_double()
        u2 = self.next_double()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
