namespace FlowService.Model.Flows;

/// <summary>
/// Bits per dimension, the image-modelling unit: -log p / (D ln 2) for a log density p in nats of a
/// D-value image. With a density of dequantized pixels in pixel units (<see cref="UniformDequantization"/>)
/// it is an upper bound on the discrete model's code length per sub-pixel; 8 is a uniform model of
/// 8-bit pixels.
/// </summary>
public static class BitsPerDim
{
    public static double FromLogProb(double logProb, int dimensions)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dimensions);
        return -logProb / (dimensions * Math.Log(2));
    }
}
