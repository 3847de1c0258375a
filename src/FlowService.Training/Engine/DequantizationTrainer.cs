using FlowService.Model.Compute;
using FlowService.Model.Flows;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;
using FlowService.Training.Jobs;
using FlowService.Training.Optimization;

namespace FlowService.Training.Engine;

/// <summary>
/// Density estimation of discrete data k ∈ ℤ^D (e.g. grey levels) with a flow p on y = k + u, u ∈ [0, 1)^D, by the
/// dequantization bound log P(k) ≥ E_q[log p(k + u) - log q(u | k)] (Ho et al. 2019, "Flow++", section 3.2):
/// <list type="bullet">
/// <item><b>uniform</b> (<paramref name="dequantizer"/> null): q = U[0, 1)^D, so log q = 0 and fresh u is drawn every batch;</item>
/// <item><b>variational</b>: u = σ(v), v = T(ε; k̃) with ε ~ N(0, I) and T a conditional generative flow on the
/// standardized k̃; log q(u | k) = log N(ε) - log|det ∂v/∂ε| - Σ log σ'(v). p and q are trained jointly on the
/// bound (the reparameterization gradient flows from p's input gradient through σ and T's backward).</item>
/// </list>
/// Same loop for both, so a comparison at the same budget differs only in q: epochs of shuffled mini-batches,
/// AdamW per flow with global-norm clipping and the job's schedule, the validation bound for early stopping (best
/// weights of both flows kept). <see cref="Bound"/> reports -E[log p - log q] per row in nats, averaged over draws.
/// </summary>
public sealed class DequantizationTrainer(NormalizingFlow model, NormalizingFlow? dequantizer, TrainingParameters parameters)
{
    public sealed record Result(int EpochsRun, int BestEpoch, double BestValidationBound);

    /// <summary>Checks the pair: p over D features in the density direction; q generative over D features conditioned on D.</summary>
    private void Validate()
    {
        if (model.Generative || model.ContextFeatures > 0)
            throw new ArgumentException("The model must be an unconditional flow in the density direction.", nameof(model));
        if (dequantizer is { } q && (!q.Generative || q.Features != model.Features || q.ContextFeatures != model.Features || q.Normalization is not null))
            throw new ArgumentException("The dequantizer must be a generative flow over D features conditioned on the D data values.", nameof(dequantizer));
    }

    public Result Train(float[] train, int trainRows, float[] validation, int validationRows, CancellationToken cancellationToken)
    {
        Validate();
        var p = parameters;
        int d = model.Features, batch = Math.Min(p.BatchSize, trainRows), batches = (trainRows + batch - 1) / batch;
        var schedule = FlowTrainer.Schedule(p, batches);
        var modelOptimizer = new AdamW(model.Backend, model.Parameters.Length, new AdamWOptions { WeightDecay = p.WeightDecay });
        var dequantizerOptimizer = dequantizer is null ? null : new AdamW(dequantizer.Backend, dequantizer.Parameters.Length, new AdamWOptions { WeightDecay = p.WeightDecay });
        var step = new Step(model, dequantizer);
        var bestModel = model.GetParameters();
        var bestDequantizer = dequantizer?.GetParameters();
        double best = double.PositiveInfinity;
        int bestEpoch = 0, badEpochs = 0, epoch = 0;
        var k = new float[batch * d];
        while (epoch < p.Epochs && badEpochs < p.Patience)
        {
            epoch++;
            var order = SeededShuffle.ForEpoch(trainRows, p.Seed, epoch);
            var random = new Random(p.Seed * 7919 + epoch);
            for (int start = 0; start < trainRows; start += batch)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int rows = Math.Min(batch, trainRows - start);
                for (int r = 0; r < rows; r++)
                    train.AsSpan(order[start + r] * d, d).CopyTo(k.AsSpan(r * d, d));
                double loss = step.Run(k.AsSpan(0, rows * d), rows, random, withGradients: true);
                if (!double.IsFinite(loss))
                    throw new TrainingDivergedException($"Dequantization training diverged in epoch {epoch}: the bound became {loss}. Lower training.learningRate.");
                double rate = schedule.At(modelOptimizer.Step);
                Update(model, step.ModelGradient, modelOptimizer, rate);
                if (dequantizer is not null)
                    Update(dequantizer, step.DequantizerGradient!, dequantizerOptimizer!, rate);
            }
            double bound = Bound(validation, validationRows, draws: 1, seed: p.Seed + 1_000_003);
            if (bound < best)
            {
                (best, bestEpoch, badEpochs) = (bound, epoch, 0);
                bestModel = model.GetParameters();
                bestDequantizer = dequantizer?.GetParameters();
            }
            else
                badEpochs++;
        }
        model.SetParameters(bestModel);
        if (dequantizer is not null)
            dequantizer.SetParameters(bestDequantizer!);
        return new Result(epoch, bestEpoch, best);
    }

    /// <summary>-E[log p(k + u) - log q(u | k)] per row in nats (an upper bound on -log P(k)), averaged over <paramref name="draws"/> draws of u per row.</summary>
    public double Bound(float[] data, int rows, int draws, int seed)
    {
        Validate();
        var step = new Step(model, dequantizer);
        var random = new Random(seed);
        int d = model.Features, chunk = 512;
        double sum = 0;
        for (int draw = 0; draw < draws; draw++)
            for (int start = 0; start < rows; start += chunk)
            {
                int count = Math.Min(chunk, rows - start);
                sum += step.Run(data.AsSpan(start * d, count * d), count, random, withGradients: false) * count;
            }
        return sum / ((double)rows * draws);
    }

    /// <summary>
    /// The batch's mean bound -(log p(k + u) - log q(u | k)) for the draws of <c>Random(seed)</c>, and its gradients
    /// (layout order) for both flows (the dequantizer's span is ignored for uniform dequantization).
    /// </summary>
    public double BoundAndGradients(ReadOnlySpan<float> k, int rows, int seed, Span<float> modelGradient, Span<float> dequantizerGradient)
    {
        Validate();
        var step = new Step(model, dequantizer);
        double bound = step.Run(k, rows, new Random(seed), withGradients: true);
        var all = new float[model.Parameters.Length];
        model.Backend.Download(step.ModelGradient, all);
        all.AsSpan(0, model.Layout.Length).CopyTo(modelGradient);
        if (dequantizer is not null)
        {
            all = new float[dequantizer.Parameters.Length];
            dequantizer.Backend.Download(step.DequantizerGradient!, all);
            all.AsSpan(0, dequantizer.Layout.Length).CopyTo(dequantizerGradient);
        }
        return bound;
    }

    /// <summary>The bound of <see cref="BoundAndGradients"/> alone (the scoring path, no recording).</summary>
    public double BoundOf(ReadOnlySpan<float> k, int rows, int seed)
    {
        Validate();
        return new Step(model, dequantizer).Run(k, rows, new Random(seed), withGradients: false);
    }

    private void Update(NormalizingFlow flow, Tensor gradient, AdamW optimizer, double rate)
    {
        double norm = GradientClipping.GlobalNorm(flow.Backend, gradient);
        if (!double.IsFinite(norm))
            throw new TrainingDivergedException("Dequantization training diverged: a gradient became NaN or infinite. Lower training.learningRate.");
        optimizer.Update(flow.Parameters, gradient, rate, GradientClipping.Coefficient(norm, parameters.GradClip > 0 ? parameters.GradClip : null));
    }

    /// <summary>One batch: draws u, scores the bound per row and (when asked) leaves both flows' gradients of its mean.</summary>
    private sealed class Step(NormalizingFlow model, NormalizingFlow? dequantizer)
    {
        private readonly FlowContext _modelContext = model.CreateTrainingContext(model.AllocateGradients());
        private readonly FlowContext? _dequantizerContext = dequantizer?.CreateTrainingContext(dequantizer.AllocateGradients());

        public Tensor ModelGradient => _modelContext.Gradients!;

        public Tensor? DequantizerGradient => _dequantizerContext?.Gradients;

        /// <summary>Returns the batch's mean of -(log p(k + u) - log q(u | k)).</summary>
        public double Run(ReadOnlySpan<float> k, int rows, Random random, bool withGradients)
        {
            int d = model.Features;
            var backend = model.Backend;
            var y = new float[rows * d];
            var logQ = new double[rows];
            var sigmoid = new double[rows * d];
            if (dequantizer is null)
            {
                for (int i = 0; i < y.Length; i++)
                    y[i] = k[i] + (float)random.NextDouble();
            }
            else
            {
                var q = dequantizer;
                var eps = new float[rows * d];
                for (int i = 0; i < eps.Length; i++)
                    eps[i] = ParameterInitializer.StandardNormal(random);
                var condition = new float[rows * d];
                var normalization = model.Normalization;
                for (int i = 0; i < condition.Length; i++)
                    condition[i] = normalization is null ? k[i] : (k[i] - normalization.Mean[i % d]) / normalization.Std[i % d];
                var (te, tc) = (Upload(q, eps, rows), Upload(q, condition, rows));
                var v = q.Backend.Allocate(rows, d);
                var logDet = q.Backend.Allocate(rows, 1);
                q.GenerativeForward(_dequantizerContext!, te, tc, v, logDet);
                var vHost = new float[rows * d];
                var logDetHost = new float[rows];
                q.Backend.Download(v, vHost);
                q.Backend.Download(logDet, logDetHost);
                for (int r = 0; r < rows; r++)
                {
                    double sum = NormalizingFlow.BaseLogDensity(eps.AsSpan(r * d, d)) - logDetHost[r];
                    for (int j = 0; j < d; j++)
                    {
                        int i = r * d + j;
                        double s = 1 / (1 + Math.Exp(-vHost[i]));
                        sigmoid[i] = s;
                        // u = σ(v) stays in (0, 1); log σ'(v) = log σ(v) + log σ(-v).
                        sum -= Math.Log(Math.Max(s * (1 - s), 1e-300));
                        y[i] = k[i] + (float)s;
                    }
                    logQ[r] = sum;
                }
            }
            var ty = Upload(model, y, rows);
            double bound;
            if (!withGradients)
            {
                var logP = new float[rows];
                model.LogProb(y, rows, [], logP);
                bound = 0;
                for (int r = 0; r < rows; r++)
                    bound += -logP[r] + logQ[r];
                return bound / rows;
            }
            backend.Fill(_modelContext.Gradients!, 0f);
            var dy = backend.Allocate(rows, d);
            double nll = model.AccumulateGradients(_modelContext, ty, null, 1f / rows, dequantizer is null ? null : dy);
            bound = nll / rows + logQ.Sum() / rows;
            if (dequantizer is null)
                return bound;
            var q2 = dequantizer;
            var dyHost = new float[rows * d];
            backend.Download(dy, dyHost);
            var dv = new float[rows * d];
            for (int i = 0; i < dv.Length; i++)
            {
                double s = sigmoid[i];
                // L = mean(log q - log p): through u = σ(v) into p, and -log σ'(v) inside log q (d/dv = -(1 - 2σ)).
                dv[i] = (float)(dyHost[i] * s * (1 - s) - (1 - 2 * s) / rows);
            }
            q2.Backend.Fill(_dequantizerContext!.Gradients!, 0f);
            var dLogDet = q2.Backend.Allocate(rows, 1);
            q2.Backend.Fill(dLogDet, -1f / rows);
            q2.GenerativeBackward(_dequantizerContext, Upload(q2, dv, rows), dLogDet, q2.Backend.Allocate(rows, d));
            return bound;
        }

        private static Tensor Upload(NormalizingFlow flow, float[] values, int rows)
        {
            var tensor = flow.Backend.Allocate(rows, values.Length / rows);
            flow.Backend.Upload(values, tensor);
            return tensor;
        }
    }
}
