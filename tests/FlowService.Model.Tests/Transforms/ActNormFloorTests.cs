using FlowService.Model.Flows;
using FlowService.Model.Flows.Recipes;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Tests.Transforms;

/// <summary>
/// ActNorm's std floor: its data-dependent start divides each feature by no less than a fraction of the pooled std,
/// so an almost-constant feature (an image's empty border pixel) is not stretched 50x; the image recipe's input
/// ActNorm uses it by default (docs/ENGINE.md, "Image flows").
/// </summary>
public sealed class ActNormFloorTests
{
    [Fact]
    public void The_floor_binds_only_on_features_narrower_than_a_fraction_of_the_pooled_std()
    {
        const int rows = 1000, features = 3;
        var random = new Random(11);
        var x = new float[rows * features];
        for (int r = 0; r < rows; r++)
        {
            x[r * features] = -2.9f + 0.001f * random.NextSingle();    // almost constant
            x[r * features + 1] = 4f * random.NextSingle() - 2f;       // spread out
            x[r * features + 2] = 5f;                                   // constant
        }
        double pooled = PooledStd(x);
        var (withFloor, norm) = Initialize(x, features, stdFloor: 0.25f);
        var (without, _) = Initialize(x, features, stdFloor: 0f);
        var fitted = Standardization.Fit(x, features);

        float floor = (float)(0.25 * pooled);
        Assert.Equal(-MathF.Log(floor), withFloor[norm.LogScale.Offset], 5);
        Assert.Equal(-MathF.Log(fitted.Std[1]), withFloor[norm.LogScale.Offset + 1], 5);
        Assert.Equal(0f, withFloor[norm.LogScale.Offset + 2]);    // a constant feature keeps std 1 (above this floor)
        for (int j = 0; j < features; j++)
            Assert.Equal(-fitted.Mean[j], withFloor[norm.Shift.Offset + j]);
        // Without the floor the almost-constant feature is stretched by 1/its std (~3,500x here).
        Assert.Equal(-MathF.Log(fitted.Std[0]), without[norm.LogScale.Offset], 5);
        Assert.True(without[norm.LogScale.Offset] > 7f, $"logScale without the floor {without[norm.LogScale.Offset]}");
    }

    [Fact]
    public void A_negative_or_undefined_floor_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActNorm(3, -0.1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ActNorm(3, float.NaN));
    }

    [Fact]
    public void An_image_flows_input_ActNorm_does_not_stretch_an_always_empty_border()
    {
        // 8x8 images whose 28 border pixels are always 0 (dequantized: U[0,1)), the interior anything. Without the
        // floor the border's logScale is ~3.9 (its only spread is the noise's, 0.02 in logit units) and an image
        // with ink there leaves the ActNorm at ~290 standard deviations: the loss spikes.
        const int rows = 512, d = 64;
        const string spec = """{"type":"realnvp","image":[1,8,8],"levels":2,"steps":1,"channels":4,"blocks":1,"inputNorm":true}""";
        var random = new Random(5);
        var x = new float[rows * d];
        for (int r = 0; r < rows; r++)
            for (int p = 0; p < d; p++)
                x[r * d + p] = (Border(p) ? 0 : random.Next(256)) + random.NextSingle();
        var logits = x.Select(v => LogitOf(v)).ToArray();
        double pooled = PooledStd(logits);

        var (floored, floorNorm) = InputNorm(spec, x, rows);
        var (plain, plainNorm) = InputNorm(spec.Replace("}", ""","inputNormFloor":0}"""), x, rows);
        Assert.Equal(ImageFlowOptions.DefaultInputNormFloor, floorNorm.StdFloor);
        float bound = -MathF.Log((float)(ImageFlowOptions.DefaultInputNormFloor * pooled));
        for (int p = 0; p < d; p++)
        {
            float logScale = floored[floorNorm.LogScale.Offset + p], unfloored = plain[plainNorm.LogScale.Offset + p];
            if (Border(p))
            {
                Assert.Equal(bound, logScale, 4);
                Assert.True(unfloored > 3.5f, $"pixel {p}: logScale without the floor {unfloored}");
                // A pixel of 255 where the initialisation rows never had ink: how many stds it leaves the ActNorm at.
                float inked = (LogitOf(255.5f) + floored[floorNorm.Shift.Offset + p]) * MathF.Exp(logScale);
                float inkedPlain = (LogitOf(255.5f) + plain[plainNorm.Shift.Offset + p]) * MathF.Exp(unfloored);
                Assert.True(inked < 20f && inkedPlain > 100f, $"pixel {p}: ink at {inked} stds with the floor, {inkedPlain} without");
            }
            else
            {
                Assert.True(logScale < bound, $"pixel {p}: logScale {logScale} is at the floor");
                Assert.Equal(unfloored, logScale);    // a spread-out pixel is standardized as before
            }
        }
    }

    private static bool Border(int pixel) => pixel / 8 is 0 or 7 || pixel % 8 is 0 or 7;

    /// <summary>The recipe's preprocessing: pixels ÷ 256, then logit(α + (1 - 2α) x) with α 0.05.</summary>
    private static float LogitOf(float pixel)
    {
        double s = Logit.DefaultAlpha + (1 - 2 * Logit.DefaultAlpha) * pixel / 256.0;
        return (float)(Math.Log(s) - Math.Log(1 - s));
    }

    private static double PooledStd(float[] values)
    {
        double mean = values.Average(v => (double)v);
        return Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
    }

    private static (float[] Parameters, ActNorm Norm) Initialize(float[] x, int features, float stdFloor)
    {
        var norm = new ActNorm(features, stdFloor);
        var layout = new ParameterLayout();
        norm.DeclareParameters(layout.Scope(""));
        var parameters = new float[layout.Length];
        norm.InitializeFromData(x, parameters);
        return (parameters, norm);
    }

    private static (float[] Parameters, ActNorm Norm) InputNorm(string spec, float[] x, int rows)
    {
        var flow = NormalizingFlow.Create(spec, x.Length / rows, 0, seed: 3);
        flow.InitializeFromData(x, rows, []);
        return (flow.GetParameters(), Assert.IsType<ActNorm>(((Chain)flow.Transform).Transforms[3]));
    }
}
