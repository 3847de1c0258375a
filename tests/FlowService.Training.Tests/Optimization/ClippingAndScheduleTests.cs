using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;
using FlowService.Training.Optimization;

namespace FlowService.Training.Tests.Optimization;

public sealed class ClippingAndScheduleTests
{
    private static readonly CpuBackend Cpu = CpuBackend.Instance;

    [Fact]
    public void Global_norm_and_coefficient_follow_clip_grad_norm()
    {
        // torch.nn.utils.clip_grad_norm_([3, 4] and [12], 6.5): norm 13, grads scaled by 6.5 / (13 + 1e-6).
        var g = Cpu.Allocate(1, 3);
        Cpu.Upload([3f, 4f, 12f], g);
        double norm = GradientClipping.GlobalNorm(Cpu, g);
        Assert.Equal(13.0, norm, 12);
        float coefficient = GradientClipping.Coefficient(norm, 6.5);
        Assert.Equal(6.5 / (13 + 1e-6), coefficient, 7);
        // torch 1.13 printed these clipped gradients for the same call.
        Assert.Equal([1.4999999f, 1.9999999f, 5.9999995f], new[] { 3f * coefficient, 4f * coefficient, 12f * coefficient });
        Assert.Equal(1f, GradientClipping.Coefficient(norm, 13.5));
        Assert.True(GradientClipping.Coefficient(13, 13) < 1f);  // the 1e-6 makes norm == max clip very slightly
        Assert.Equal(1f, GradientClipping.Coefficient(norm, null));
    }

    [Fact]
    public void Sum_of_squares_is_accurate_over_a_long_arena()
    {
        var x = Cpu.Allocate(1, 100_003);
        x.Span().Fill(0.1f);
        var result = Cpu.Allocate(1, 1);
        Cpu.SumOfSquares(x, result);
        Assert.Equal(100_003 * (double)0.1f * 0.1f, result.Span()[0], 1e-2);
    }

    [Fact]
    public void A_clipped_step_equals_a_step_on_pre_scaled_gradients()
    {
        float[] raw = [30f, -40f];
        var p1 = Cpu.Allocate(1, 2);
        var p2 = Cpu.Allocate(1, 2);
        var g = Cpu.Allocate(1, 2);
        Cpu.Upload(raw, g);
        float c = GradientClipping.Coefficient(GradientClipping.GlobalNorm(Cpu, g), 1.0);
        new AdamW(Cpu, 2, new AdamWOptions()).Update(p1, g, 0.1, c);
        var scaled = Cpu.Allocate(1, 2);
        Cpu.Upload(raw.Select(v => v * c).ToArray(), scaled);
        var adam = new AdamW(Cpu, 2, new AdamWOptions());
        adam.Update(p2, scaled, 0.1);
        Assert.Equal(p2.Span().ToArray(), p1.Span().ToArray());
        Assert.Equal(0.1f * 0.1f * 0.36f, adam.SecondMoment.Span()[0] * 10f, 6); // (1−β2)·(30c)², c ≈ 1/50
    }

    [Fact]
    public void Schedules_give_the_documented_rates()
    {
        Assert.Equal(0.01, LearningRateSchedule.Constant(0.01).At(12345));
        var cosine = LearningRateSchedule.Cosine(1.0, totalSteps: 110, warmupSteps: 10, minimum: 0.1);
        Assert.Equal(0.1, cosine.At(0), 12);        // warm-up: rate · (step + 1) / warmup
        Assert.Equal(1.0, cosine.At(9), 12);
        Assert.Equal(1.0, cosine.At(10), 12);       // cosine starts at the peak
        Assert.Equal(0.55, cosine.At(60), 12);      // halfway: (max + min) / 2
        Assert.Equal(0.1, cosine.At(110), 12);
        Assert.Equal(0.1, cosine.At(500), 12);      // stays at the minimum after the end
        var step = LearningRateSchedule.Step(0.1, stepSize: 30, gamma: 0.5);
        Assert.Equal(0.1, step.At(29), 12);
        Assert.Equal(0.05, step.At(30), 12);
        Assert.Equal(0.025, step.At(60), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => LearningRateSchedule.Cosine(1, totalSteps: 5, warmupSteps: 5));
        var warmed = LearningRateSchedule.WarmUp(LearningRateSchedule.Step(0.1, stepSize: 30, gamma: 0.5), warmupSteps: 4);
        Assert.Equal(0.025, warmed.At(0), 12);      // the inner rate · (step + 1) / warmup
        Assert.Equal(0.1, warmed.At(3), 12);
        Assert.Equal(0.05, warmed.At(30), 12);
        // The trainer's: "cosine" warms up inside its own schedule, the others through WarmUp; 0 leaves them as they were.
        var job = new TrainingParameters { Epochs = 2, LearningRate = 1.0, WarmupSteps = 10 };
        Assert.Equal(0.1, FlowTrainer.Schedule(job, batchesPerEpoch: 55).At(0), 12);
        Assert.Equal(1.0, FlowTrainer.Schedule(job, batchesPerEpoch: 55).At(10), 12);
        Assert.Equal(0.5, FlowTrainer.Schedule(job with { Schedule = "constant" }, 55).At(4), 12);
        Assert.Equal(1.0, FlowTrainer.Schedule(job with { Schedule = "constant", WarmupSteps = 0 }, 55).At(0), 12);
        Assert.Equal(("training.warmupSteps", "must be between 0 and 1000000"), (job with { WarmupSteps = -1 }).FindError());
    }

    [Fact]
    public void Shuffles_are_seeded_permutations_that_differ_per_epoch()
    {
        int[] a = SeededShuffle.ForEpoch(1000, seed: 7, epoch: 3);
        Assert.Equal(a, SeededShuffle.ForEpoch(1000, 7, 3));
        Assert.Equal(Enumerable.Range(0, 1000), a.Order());
        Assert.NotEqual(a, SeededShuffle.ForEpoch(1000, 7, 4));
        Assert.NotEqual(Enumerable.Range(0, 1000), a);
    }
}
