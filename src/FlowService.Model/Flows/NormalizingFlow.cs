using System.Collections.Concurrent;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Parallel;
using FlowService.Model.Distributions;
using FlowService.Model.Flows.Recipes;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Images;

namespace FlowService.Model.Flows;

/// <summary>
/// A normalizing flow: the fixed standardization, the recipe's transform chain and the
/// standard-normal base, with one parameter arena. log p(x) = log N(f(s(x))) + log|det| of both.
/// </summary>
/// <remarks>
/// Host calls are thread-safe: each call (each shard of a large batch) rents its own
/// <see cref="FlowContext"/> from a pool, and the parameters are only read. Large batches are
/// split over the cores with <see cref="ShardRunner"/>. The parameter names are the recipe
/// chain's (<c>transforms.{i}.…</c>); the standardization lives outside the chain, so the names
/// match the PyTorch reference whether or not a normalization is used.
/// </remarks>
public sealed class NormalizingFlow
{
    /// <summary>Rows below which a host call stays on the calling thread (a shard costs more to start than it saves).</summary>
    public const int MinRowsPerShard = 256;

    /// <summary>Values (rows x features) one shard runs through the flow at a time: 83 images of 28x28, 16,384 rows of 4 features.</summary>
    public const int MaxChunkValues = 1 << 16;

    private readonly ConcurrentBag<FlowContext> _contexts = new();

    private NormalizingFlow(FlowSpec spec, int features, int contextFeatures, int seed, ITransform transform, Standardization? normalization,
        IBackend backend, ParameterLayout layout, Tensor parameters)
    {
        Spec = spec;
        Seed = seed;
        Features = features;
        ContextFeatures = contextFeatures;
        Transform = transform;
        Normalization = normalization;
        Backend = backend;
        Layout = layout;
        Parameters = parameters;
    }

    public FlowSpec Spec { get; }

    /// <summary>The seed the flow was built from: it fixes random permutations as well as the initial weights, so a checkpoint records it.</summary>
    public int Seed { get; }

    public int Features { get; }

    public int ContextFeatures { get; }

    /// <summary>The recipe's transform chain (data → latent), after the normalization.</summary>
    public ITransform Transform { get; }

    /// <summary>The fixed per-column standardization applied first, or null.</summary>
    public Standardization? Normalization { get; }

    public IBackend Backend { get; }

    public ParameterLayout Layout { get; }

    /// <summary>The parameter arena (1 x max(Layout.Length, 1)) on <see cref="Backend"/>.</summary>
    public Tensor Parameters { get; }

    /// <summary>Builds the flow of <paramref name="spec"/> (validated; errors name the field) with weights drawn from <paramref name="seed"/>.</summary>
    public static NormalizingFlow Create(FlowSpec spec, int features, int contextFeatures, int seed, Standardization? normalization = null, IBackend? backend = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (contextFeatures < 0)
            throw new FlowSpecException("contextFeatures", $"Context features cannot be negative ({contextFeatures}).");
        if (normalization is not null && normalization.Features != features)
            throw new ArgumentException($"The normalization has {normalization.Features} features, the flow {features}.", nameof(normalization));
        backend ??= CpuBackend.Instance;
        var transform = FlowRecipes.Build(spec, features, contextFeatures, seed);
        var layout = new ParameterLayout();
        transform.DeclareParameters(layout.Scope(""));
        var initializer = new ParameterInitializer(layout, seed);
        transform.InitializeParameters(initializer);
        var parameters = backend.Allocate(1, Math.Max(layout.Length, 1));
        if (layout.Length > 0)
            backend.Upload(initializer.Values, parameters);
        return new NormalizingFlow(spec, features, contextFeatures, seed, transform, normalization, backend, layout, parameters);
    }

    /// <summary><see cref="Create(FlowSpec, int, int, int, Standardization?, IBackend?)"/> from the spec's JSON text.</summary>
    public static NormalizingFlow Create(string specJson, int features, int contextFeatures, int seed, Standardization? normalization = null, IBackend? backend = null) =>
        Create(FlowSpec.Parse(specJson), features, contextFeatures, seed, normalization, backend);

    public float[] GetParameters()
    {
        var values = new float[Parameters.Length];
        Backend.Download(Parameters, values);
        return values[..Layout.Length];
    }

    public void SetParameters(ReadOnlySpan<float> values)
    {
        if (values.Length != Layout.Length)
            throw new ArgumentException($"The flow has {Layout.Length} parameters, not {values.Length}.", nameof(values));
        var padded = new float[Parameters.Length];
        values.CopyTo(padded);
        Backend.Upload(padded, Parameters);
    }

    /// <summary>log p(x) per row (rows x Features, row-major) in the client's units.</summary>
    public void LogProb(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb)
    {
        CheckBatch(x, rows, context);
        RequireLength(logProb.Length, rows, nameof(logProb));
        var z = new float[x.Length];
        Encode(x, rows, context, z, logProb);
        for (int r = 0; r < rows; r++)
        {
            double squares = 0;
            for (int j = 0; j < Features; j++)
                squares += (double)z[r * Features + j] * z[r * Features + j];
            logProb[r] += (float)(-0.5 * squares - 0.5 * Features * Math.Log(2 * Math.PI));
        }
    }

    /// <summary>z = f(x) and log|det ∂z/∂x| per row (normalization included).</summary>
    public void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet)
    {
        CheckBatch(x, rows, context);
        RequireLength(z.Length, rows * Features, nameof(z));
        RequireLength(logDet.Length, rows, nameof(logDet));
        RunSharded(rows, x.ToArray(), context.ToArray(), z, logDet, inverse: false);
    }

    /// <summary>x = f⁻¹(z) (normalization included, so x is in the client's units).</summary>
    public void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x)
    {
        CheckBatch(z, rows, context);
        RequireLength(x.Length, rows * Features, nameof(x));
        RunSharded(rows, z.ToArray(), context.ToArray(), x, Span<float>.Empty, inverse: true);
    }

    /// <summary>n samples x = f⁻¹(T · ε), ε ~ N(0, I) from <paramref name="seed"/>: the same seed gives the same samples.</summary>
    public void Sample(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var z = new float[n * Features];
        StandardNormal.Sample(z, seed, temperature);
        Decode(z, n, context, x);
    }

    /// <summary>A context for one training shard, with this shard's gradient arena (1 x Parameters.Length on the backend).</summary>
    public FlowContext CreateTrainingContext(Tensor gradients) => new(Backend, Parameters, gradients);

    /// <summary>A zero gradient arena shaped like <see cref="Parameters"/>.</summary>
    public Tensor AllocateGradients() => Backend.Allocate(1, Parameters.Length);

    /// <summary>
    /// The training step of one shard: forward with recording, log p per row, and backward of
    /// L = -weight · Σ_rows log p into <c>context.Gradients</c> (<b>accumulated</b>). With weight
    /// = 1/B for a batch of B rows split over shards, the shards' gradient arenas sum to the
    /// gradient of the mean NLL. Returns Σ_rows -log p of this shard (unweighted, in double).
    /// </summary>
    public double AccumulateGradients(FlowContext context, Tensor x, Tensor? condition, float weight)
    {
        if (x.Cols != Features)
            throw new ArgumentException($"x must have {Features} columns, not {x.Cols}.", nameof(x));
        int rows = x.Rows;
        var backend = context.Backend;
        var workspace = context.Workspace;
        context.Condition = condition;
        context.RecordForBackward = true;
        var h = x;
        var logDet = workspace.Get(this, "logDet", rows, 1);
        backend.Fill(logDet, 0f);
        if (Normalization is not null)
        {
            h = workspace.Get(this, "standardized", rows, Features);
            Normalization.Forward(context, x, h, logDet);
        }
        var z = workspace.Get(this, "z", rows, Features);
        Transform.Forward(context, h, z, logDet);
        var logProb = workspace.Get(this, "logProb", rows, 1);
        StandardNormal.LogDensity(backend, z, logProb);
        backend.AddScaled(logDet, 1f, logProb);

        var dz = workspace.Get(this, "dz", rows, Features);
        StandardNormal.LogDensityGradient(backend, z, -weight, dz);
        var dLogDet = workspace.Get(this, "dLogDet", rows, 1);
        backend.Fill(dLogDet, -weight);
        Transform.Backward(context, dz, dLogDet, workspace.Get(this, "dh", rows, Features));
        context.RecordForBackward = false;

        var host = new float[rows];
        backend.Download(logProb, host);
        double nll = 0;
        foreach (float value in host)
            nll -= value;
        return nll;
    }

    /// <summary>
    /// The whole-batch training step on host arrays: returns L = -mean log p(x) and writes dL/dθ
    /// (layout order) into <paramref name="gradient"/>. One shard; the trainer's sharded path is
    /// <see cref="AccumulateGradients"/>.
    /// </summary>
    public double LossAndGradient(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> gradient)
    {
        CheckBatch(x, rows, context);
        RequireLength(gradient.Length, Layout.Length, nameof(gradient));
        var tx = Backend.Allocate(rows, Features);
        Backend.Upload(x, tx);
        Tensor? condition = null;
        if (ContextFeatures > 0)
        {
            condition = Backend.Allocate(rows, ContextFeatures);
            Backend.Upload(context, condition);
        }
        var gradients = AllocateGradients();
        double nll = AccumulateGradients(CreateTrainingContext(gradients), tx, condition, 1f / rows);
        var all = new float[gradients.Length];
        Backend.Download(gradients, all);
        all.AsSpan(0, Layout.Length).CopyTo(gradient);
        return nll / rows;
    }

    /// <summary>log N(z; 0, I) = -½|z|² - (D/2) log 2π, in double.</summary>
    public static double BaseLogDensity(ReadOnlySpan<float> z)
    {
        double sum = 0;
        foreach (float v in z)
            sum += (double)v * v;
        return -0.5 * sum - 0.5 * z.Length * Math.Log(2 * Math.PI);
    }

    /// <summary>
    /// Glow's data-dependent initialisation: runs <paramref name="x"/> (the first batch) through the
    /// flow and sets every <see cref="IDataInitialized"/> transform (ActNorm, per-channel ActNorm, in
    /// chains and factor-outs) from the rows it receives, so that its output has zero mean and unit
    /// variance. A no-op for flows without one.
    /// </summary>
    public void InitializeFromData(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context)
    {
        CheckBatch(x, rows, context);
        if (!HasDataInitialization(Transform))
            return;
        var host = GetParameters();
        var flowContext = new FlowContext(Backend, Parameters);
        var h = Backend.Allocate(rows, Features);
        Backend.Upload(x, h);
        if (ContextFeatures > 0)
        {
            flowContext.Condition = Backend.Allocate(rows, ContextFeatures);
            Backend.Upload(context, flowContext.Condition);
        }
        if (Normalization is not null)
        {
            var standardized = Backend.Allocate(rows, Features);
            Normalization.Forward(flowContext, h, standardized, Backend.Allocate(rows, 1));
            h = standardized;
        }
        InitializeFromData(Transform, flowContext, h, host);
    }

    private static bool HasDataInitialization(ITransform transform) => transform switch
    {
        IDataInitialized => true,
        Chain chain => chain.Transforms.Any(HasDataInitialization),
        FactorOut factorOut => HasDataInitialization(factorOut.Inner),
        _ => false,
    };

    /// <summary>Initialises <paramref name="transform"/>'s data-dependent parts from its input <paramref name="h"/>, in flow order.</summary>
    private void InitializeFromData(ITransform transform, FlowContext flowContext, Tensor h, float[] host)
    {
        switch (transform)
        {
            case IDataInitialized initialized:
                var hostRows = new float[h.Length];
                Backend.Download(h, hostRows);
                initialized.InitializeFromData(hostRows, host);
                SetParameters(host);
                break;
            case Chain chain:
                var parts = chain.Transforms;
                for (int i = 0; i < parts.Count && parts.Skip(i).Any(HasDataInitialization); i++)
                {
                    InitializeFromData(parts[i], flowContext, h, host);
                    var next = Backend.Allocate(h.Rows, h.Cols);
                    parts[i].Forward(flowContext, h, next, Backend.Allocate(h.Rows, 1));
                    h = next;
                }
                break;
            case FactorOut factorOut:
                var kept = Backend.Allocate(h.Rows, factorOut.Kept);
                Backend.CopyColumns(h, 0, kept, 0, factorOut.Kept);
                InitializeFromData(factorOut.Inner, flowContext, kept, host);
                break;
        }
    }

    private void RunSharded(int rows, float[] input, float[] context, Span<float> output, Span<float> logDet, bool inverse)
    {
        int shards = Math.Max(1, Math.Min(ShardRunner.Shared.Degree, rows / MinRowsPerShard));
        var outputs = new float[rows * Features];
        var logDets = new float[rows];
        ShardRunner.Shared.Run(shards, shard =>
        {
            var range = ShardRange.Of(rows, shards, shard);
            if (range.Count == 0)
                return;
            var flowContext = Rent();
            try
            {
                // In chunks: a shard's workspace grows with its rows times the widest activation (an image flow's
                // convolutions hold channels x pixels per row), so a bounded chunk bounds the memory.
                int chunkRows = Math.Max(1, MaxChunkValues / Features);
                for (int start = range.Start; start < range.Start + range.Count; start += chunkRows)
                {
                    int count = Math.Min(chunkRows, range.Start + range.Count - start);
                    RunRows(flowContext, input.AsSpan(start * Features, count * Features),
                        context.Length == 0 ? ReadOnlySpan<float>.Empty : context.AsSpan(start * ContextFeatures, count * ContextFeatures),
                        outputs.AsSpan(start * Features, count * Features), logDets.AsSpan(start, count), count, inverse);
                }
            }
            finally
            {
                _contexts.Add(flowContext);
            }
        });
        outputs.CopyTo(output);
        if (!inverse)
            logDets.CopyTo(logDet);
    }

    private void RunRows(FlowContext flowContext, ReadOnlySpan<float> input, ReadOnlySpan<float> context, Span<float> output, Span<float> logDetHost, int rows, bool inverse)
    {
        var workspace = flowContext.Workspace;
        var a = workspace.Get(this, "hostIn", rows, Features);
        var b = workspace.Get(this, "hostMid", rows, Features);
        var c = workspace.Get(this, "hostOut", rows, Features);
        Backend.Upload(input, a);
        flowContext.Condition = null;
        if (ContextFeatures > 0)
        {
            var condition = workspace.Get(this, "hostCondition", rows, ContextFeatures);
            Backend.Upload(context, condition);
            flowContext.Condition = condition;
        }
        if (inverse)
        {
            Transform.Inverse(flowContext, a, b);
            if (Normalization is not null)
                Normalization.Inverse(flowContext, b, c);
            Backend.Download(Normalization is null ? b : c, output);
            return;
        }
        var logDet = workspace.Get(this, "hostLogDet", rows, 1);
        Backend.Fill(logDet, 0f);
        var h = a;
        if (Normalization is not null)
        {
            Normalization.Forward(flowContext, a, b, logDet);
            h = b;
        }
        Transform.Forward(flowContext, h, c, logDet);
        Backend.Download(c, output);
        Backend.Download(logDet, logDetHost);
    }

    private FlowContext Rent() => _contexts.TryTake(out var context) ? context : new FlowContext(Backend, Parameters);

    private void CheckBatch(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        RequireLength(x.Length, rows * Features, nameof(x));
        RequireLength(context.Length, rows * ContextFeatures, nameof(context));
    }

    private static void RequireLength(int length, int expected, string name)
    {
        if (length != expected)
            throw new ArgumentException($"{name} holds {length} floats, {expected} are needed.", name);
    }
}
