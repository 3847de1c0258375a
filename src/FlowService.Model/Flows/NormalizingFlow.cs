using System.Collections.Concurrent;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Flows.Recipes;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Flows;

/// <summary>
/// A flow with a standard-normal base: the transform chain a recipe builds from the spec, its
/// parameter arena, and host-level calls on float arrays (the API the service uses).
/// log p(x) = log N(f(x); 0, I) + log|det ∂f/∂x|; sampling draws z ~ N(0, T²I) and returns f⁻¹(z).
/// </summary>
/// <remarks>
/// Thread-safe: every call takes a <see cref="FlowContext"/> (its own workspace) from a pool, so
/// concurrent requests share the parameters read-only. Parameter updates
/// (<see cref="SetParameters"/>) must not overlap other calls.
/// </remarks>
public sealed class NormalizingFlow
{
    private static readonly double LogTwoPi = Math.Log(2 * Math.PI);
    private readonly ConcurrentBag<FlowContext> _contexts = new();

    private NormalizingFlow(FlowSpec spec, ITransform transform, ParameterLayout layout, int contextFeatures, IBackend backend, Tensor parameters)
    {
        Spec = spec;
        Transform = transform;
        Layout = layout;
        ContextFeatures = contextFeatures;
        Backend = backend;
        Parameters = parameters;
    }

    public FlowSpec Spec { get; }

    public ITransform Transform { get; }

    public ParameterLayout Layout { get; }

    public int Features => Transform.Features;

    public int ContextFeatures { get; }

    public IBackend Backend { get; }

    /// <summary>The parameter arena (1 x max(1, layout length)) on <see cref="Backend"/>.</summary>
    public Tensor Parameters { get; }

    /// <summary>Builds the flow of <paramref name="spec"/> and initialises it from <paramref name="seed"/> (same seed, same weights).</summary>
    public static NormalizingFlow Create(FlowSpec spec, int features, int contextFeatures, int seed, IBackend? backend = null)
    {
        backend ??= CpuBackend.Instance;
        var transform = FlowRecipes.Build(spec, features, contextFeatures, seed);
        var layout = new ParameterLayout();
        transform.DeclareParameters(layout.Scope(""));
        var initializer = new ParameterInitializer(layout, seed);
        transform.InitializeParameters(initializer);
        var parameters = backend.Allocate(1, Math.Max(1, layout.Length));
        var host = new float[parameters.Length];
        initializer.Values.CopyTo(host, 0);
        backend.Upload(host, parameters);
        return new NormalizingFlow(spec, transform, layout, contextFeatures, backend, parameters);
    }

    /// <summary>log p(x) per row; x is rows x D, context rows x C (empty when unconditional).</summary>
    public void LogProb(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb)
    {
        var z = new float[rows * Features];
        var logDet = new float[rows];
        Encode(x, rows, context, z, logDet);
        for (int r = 0; r < rows; r++)
            logProb[r] = (float)(BaseLogDensity(z.AsSpan(r * Features, Features)) + logDet[r]);
    }

    /// <summary>z = f(x) and log|det ∂f/∂x| per row.</summary>
    public void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet)
    {
        RequireLengths(x.Length, rows, context.Length);
        var flowContext = Rent(rows, context);
        try
        {
            var tx = Upload(x, rows, Features);
            var tz = Backend.Allocate(rows, Features);
            var tl = Backend.Allocate(rows, 1);
            Transform.Forward(flowContext, tx, tz, tl);
            Backend.Download(tz, z[..(rows * Features)]);
            Backend.Download(tl, logDet[..rows]);
        }
        finally
        {
            Return(flowContext);
        }
    }

    /// <summary>x = f⁻¹(z).</summary>
    public void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x)
    {
        RequireLengths(z.Length, rows, context.Length);
        var flowContext = Rent(rows, context);
        try
        {
            var tz = Upload(z, rows, Features);
            var tx = Backend.Allocate(rows, Features);
            Transform.Inverse(flowContext, tz, tx);
            Backend.Download(tx, x[..(rows * Features)]);
        }
        finally
        {
            Return(flowContext);
        }
    }

    /// <summary><paramref name="count"/> samples x = f⁻¹(T·ε), ε ~ N(0, I) from <paramref name="seed"/>.</summary>
    public void Sample(int count, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x)
    {
        if (!(temperature >= 0f) || !float.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), $"The temperature must be a finite number ≥ 0, not {temperature}.");
        var random = new Random(seed);
        var z = new float[count * Features];
        for (int i = 0; i < z.Length; i++)
            z[i] = temperature * ParameterInitializer.StandardNormal(random);
        Decode(z, count, context, x);
    }

    /// <summary>
    /// The training step's arithmetic: returns L = -mean log p(x) over the batch and writes dL/dθ
    /// into <paramref name="gradient"/> (layout order, length = <see cref="Layout"/>.Length).
    /// </summary>
    public double LossAndGradient(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> gradient)
    {
        RequireLengths(x.Length, rows, context.Length);
        var flowContext = new FlowContext(Backend, Parameters, Backend.Allocate(1, Parameters.Length)) { RecordForBackward = true };
        if (ContextFeatures > 0)
            flowContext.Condition = Upload(context, rows, ContextFeatures);
        var tx = Upload(x, rows, Features);
        var tz = Backend.Allocate(rows, Features);
        var tl = Backend.Allocate(rows, 1);
        Transform.Forward(flowContext, tx, tz, tl);
        var z = new float[rows * Features];
        var logDet = new float[rows];
        Backend.Download(tz, z);
        Backend.Download(tl, logDet);
        double loss = 0;
        for (int r = 0; r < rows; r++)
            loss -= BaseLogDensity(z.AsSpan(r * Features, Features)) + logDet[r];
        loss /= rows;
        // dL/dz = z/B (from -log N), dL/dlogDet = -1/B.
        for (int i = 0; i < z.Length; i++)
            z[i] /= rows;
        var dz = Upload(z, rows, Features);
        var dLogDet = Backend.Allocate(rows, 1);
        Backend.Fill(dLogDet, -1f / rows);
        Transform.Backward(flowContext, dz, dLogDet, Backend.Allocate(rows, Features));
        var all = new float[Parameters.Length];
        Backend.Download(flowContext.Gradients!, all);
        all.AsSpan(0, Layout.Length).CopyTo(gradient);
        return loss;
    }

    /// <summary>A host copy of the parameters in layout order.</summary>
    public float[] GetParameters()
    {
        var all = new float[Parameters.Length];
        Backend.Download(Parameters, all);
        return all[..Layout.Length];
    }

    public void SetParameters(ReadOnlySpan<float> values)
    {
        if (values.Length != Layout.Length)
            throw new ArgumentException($"This flow has {Layout.Length} parameters, not {values.Length}.", nameof(values));
        var all = new float[Parameters.Length];
        values.CopyTo(all);
        Backend.Upload(all, Parameters);
    }

    /// <summary>log N(z; 0, I) = -½|z|² - (D/2) log 2π.</summary>
    public static double BaseLogDensity(ReadOnlySpan<float> z)
    {
        double sum = 0;
        foreach (float v in z)
            sum += (double)v * v;
        return -0.5 * sum - 0.5 * z.Length * LogTwoPi;
    }

    private FlowContext Rent(int rows, ReadOnlySpan<float> context)
    {
        var flowContext = _contexts.TryTake(out var pooled) ? pooled : new FlowContext(Backend, Parameters);
        flowContext.Condition = ContextFeatures > 0 ? Upload(context, rows, ContextFeatures) : null;
        return flowContext;
    }

    private void Return(FlowContext flowContext)
    {
        flowContext.Condition = null;
        _contexts.Add(flowContext);
    }

    private Tensor Upload(ReadOnlySpan<float> values, int rows, int cols)
    {
        var tensor = Backend.Allocate(rows, cols);
        Backend.Upload(values[..(rows * cols)], tensor);
        return tensor;
    }

    private void RequireLengths(int valuesLength, int rows, int contextLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (valuesLength < rows * Features)
            throw new ArgumentException($"{rows} rows of {Features} features need {rows * Features} values, not {valuesLength}.");
        if (contextLength < rows * ContextFeatures)
            throw new ArgumentException($"{rows} rows of {ContextFeatures} context features need {rows * ContextFeatures} values, not {contextLength}.");
    }
}
