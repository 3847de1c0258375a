using System.Diagnostics;
using System.Globalization;
using FlowService.Model.Compute.Cpu;

namespace FlowService.Bench;

/// <summary>
/// Time per call of each 3x3 convolution shape of the Fashion-MNIST flow's conditioners, forward (with the fused bias
/// and ReLU) and backward (weight and input gradients), on 7,840 pixels (10 images of 28x28, 40 of 14x14: one scoring
/// chunk), one thread, median of --reps calls after 10 unmeasured: the kernels alone, without the flow around them.
/// </summary>
internal static class ConvLayerTiming
{
    private static readonly (int Images, int Side, int In, int Out, string Layer)[] Shapes =
    [
        (10, 28, 1, 32, "28x28 input"),
        (10, 28, 32, 32, "28x28 hidden"),
        (10, 28, 32, 2, "28x28 output"),
        (40, 14, 2, 32, "14x14 input"),
        (40, 14, 32, 32, "14x14 hidden"),
        (40, 14, 32, 4, "14x14 output"),
    ];

    public static int Run(string[] args)
    {
        int reps = 101;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--reps": reps = Math.Max(1, int.Parse(args[i + 1], CultureInfo.InvariantCulture)); break;
                default:
                    Console.Error.WriteLine($"conv-layers: unknown option {args[i]}");
                    return 1;
            }
        }
        Console.WriteLine($"3x3 convolutions of the images flow, 7,840 pixels per call, one thread, path {ManagedGemm.BestPath}; median of {reps} calls, us");
        Console.WriteLine($"{"layer",-14} {"in -> out",-10} {"forward",9} {"backward",9}");
        var random = new Random(1);
        foreach (var (images, side, inChannels, outChannels, layer) in Shapes)
        {
            int pixels = images * side * side;
            var x = Values(random, pixels * inChannels, 1f);
            var weight = Values(random, 9 * inChannels * outChannels, 1f / MathF.Sqrt(9 * inChannels));
            var bias = Values(random, outChannels, 0.1f);
            var y = new float[pixels * outChannels];
            var dy = Values(random, pixels * outChannels, 1f);
            var dWeight = new float[weight.Length];
            var dx = new float[x.Length];
            double forward = Median(reps, () => DirectConvolution3x3.Forward(x, images, side, side, inChannels, weight, outChannels,
                transposedWeight: false, y, bias, FusedActivation.Relu));
            double backward = Median(reps, () => DirectConvolution3x3.Backward(x, dy, images, side, side, inChannels, weight, outChannels, dWeight, dx));
            Console.WriteLine($"{layer,-14} {$"{inChannels} -> {outChannels}",-10} {forward,9:F1} {backward,9:F1}");
        }
        return 0;
    }

    private static double Median(int reps, Action call)
    {
        for (int i = 0; i < 10; i++)
            call();
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            long started = Stopwatch.GetTimestamp();
            call();
            times[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        }
        Array.Sort(times);
        return times[reps / 2];
    }

    private static float[] Values(Random random, int length, float scale)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
            values[i] = scale * (2 * random.NextSingle() - 1);
        return values;
    }
}
