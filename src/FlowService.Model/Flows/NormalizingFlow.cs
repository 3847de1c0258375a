using System.Buffers;
using System.Collections.Concurrent;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Parallel;
using FlowService.Model.Distributions;
using FlowService.Model.Flows.Recipes;
using FlowService.Model.Parameters;
using FlowService.Model.Targets;
using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Images;

namespace FlowService.Model.Flows;

/// <summary>
/// A normalizing flow: the fixed standardization, the recipe's transform chain and the base
/// distribution (N(0, I), or the spec's Gaussian mixture), with one parameter arena.
/// log p(x) = log p_base(f(s(x))) + log|det| of both.
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
    /// <summary>Rows of up to <see cref="NarrowRowFeatures"/> features below which a host call stays on the calling thread (a shard costs more to start than it saves).</summary>
    public const int MinRowsPerShard = 256;

    /// <summary>
    /// Rows wider than this cost proportionally more, so fewer of them fill a shard: 20 images of 28x28 (each ~0.5 ms of
    /// convolutions), not 256, so a 500-image scoring call runs on both cores instead of one.
    /// </summary>
    public const int NarrowRowFeatures = 64;

    /// <summary>Values (rows x features) one shard runs through the flow at a time, rows of up to <see cref="NarrowRowFeatures"/> features: 16,384 rows of 4.</summary>
    public const int MaxChunkValues = 1 << 16;

    /// <summary>
    /// The same for wider rows (images): 10 images of 28x28, not 83. An image flow's workspace holds every coupling's
    /// 32-channel activations per chunk (96 MB at 83 images, faulted in page by page on a VM's first call: 35,000
    /// faults for 500 images on two shards, 6,000 at 10), and a 1 MB activation stays in L2 between the layers that
    /// write and read it.
    /// </summary>
    public const int MaxWideChunkValues = 1 << 13;

    /// <summary>
    /// Idle contexts (workspaces) for host calls. A queue, not a ConcurrentBag: calls come from whichever thread-pool
    /// thread serves the request, so a bag's per-thread lists are nearly always empty and each rent stole from another
    /// thread's list under a lock (the most contended lock in the profile of single-row requests, ServingLoad pipeline).
    /// </summary>
    private readonly ConcurrentQueue<FlowContext> _contexts = new();
    private Tensor? _transposed;

    private NormalizingFlow(FlowSpec spec, int features, int contextFeatures, int seed, ITransform transform, IBaseDistribution baseDistribution,
        Standardization? normalization, IBackend backend, ParameterLayout layout, Tensor parameters, bool generative)
    {
        Base = baseDistribution;
        Generative = generative;
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

    /// <summary>The distribution of the latent z = f(x): <see cref="StandardNormal"/> or a <see cref="GaussianMixtureBase"/> (parameters <c>base.…</c>, after the chain's).</summary>
    public IBaseDistribution Base { get; }

    /// <summary>The fixed per-column standardization applied first, or null.</summary>
    public Standardization? Normalization { get; }

    public IBackend Backend { get; }

    /// <summary>
    /// True when the chain runs the other way: its Forward maps latent → data (the sampling path, trained by
    /// reverse KL through the chain's own backward, <see cref="AccumulateReverseKlGradients"/>), and scoring runs
    /// its Inverse, then its Forward once more for log|det| (log q(x) = log N(z) - log|det ∂x/∂z|, z = chain⁻¹(x)).
    /// A MAF chain is then an IAF: one-pass sampling, D-pass scoring. Maximum-likelihood training needs the
    /// density direction and refuses a generative flow.
    /// </summary>
    public bool Generative { get; }

    public ParameterLayout Layout { get; }

    /// <summary>The parameter arena (1 x max(Layout.Length, 1)) on <see cref="Backend"/>.</summary>
    public Tensor Parameters { get; }

    /// <summary>Builds the flow of <paramref name="spec"/> (validated; errors name the field) with weights drawn from <paramref name="seed"/>.</summary>
    public static NormalizingFlow Create(FlowSpec spec, int features, int contextFeatures, int seed, Standardization? normalization = null, IBackend? backend = null,
        bool generative = false)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (generative && normalization is not null)
            throw new ArgumentException("A generative flow (reverse-KL fitting, dequantizers) has no data standardization.", nameof(generative));
        if (contextFeatures < 0)
            throw new FlowSpecException("contextFeatures", $"Context features cannot be negative ({contextFeatures}).");
        if (normalization is not null && normalization.Features != features)
            throw new ArgumentException($"The normalization has {normalization.Features} features, the flow {features}.", nameof(normalization));
        backend ??= CpuBackend.Instance;
        var (transform, baseDistribution) = FlowRecipes.BuildFlow(spec, features, contextFeatures, seed);
        var layout = new ParameterLayout();
        transform.DeclareParameters(layout.Scope(""));
        baseDistribution.DeclareParameters(layout.Scope("base"));
        var initializer = new ParameterInitializer(layout, seed);
        transform.InitializeParameters(initializer);
        baseDistribution.InitializeParameters(initializer);
        var parameters = backend.Allocate(1, Math.Max(layout.Length, 1));
        if (layout.Length > 0)
            backend.Upload(initializer.Values, parameters);
        return new NormalizingFlow(spec, features, contextFeatures, seed, transform, baseDistribution, normalization, backend, layout, parameters, generative);
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

    /// <summary>
    /// Marks the parameters final, for serving: inference contexts then read each dense layer's weight from a transposed
    /// copy of the arena (<see cref="FlowContext.TransposedParameters"/>), built once here. Results are bit-identical;
    /// parameter memory doubles. A frozen flow must not be trained (an optimizer writes the arena in place, and the
    /// copy would go stale): <see cref="SetParameters"/> and <see cref="InitializeFromData"/> refuse.
    /// </summary>
    public void FreezeForServing()
    {
        if (_transposed is not null || Layout.Length == 0)
            return;
        var values = GetParameters();
        var transposed = new float[Parameters.Length];
        foreach (var slot in Layout.Slots)
            for (int r = 0; r < slot.Rows; r++)
                for (int c = 0; c < slot.Cols; c++)
                    transposed[slot.Offset + c * slot.Rows + r] = values[slot.Offset + r * slot.Cols + c];
        var arena = Backend.Allocate(1, Parameters.Length);
        Backend.Upload(transposed, arena);
        // Contexts made before this (pooled ones) have no copy: drop them, the next Rent makes new ones.
        while (_contexts.TryDequeue(out _)) { }
        _transposed = arena;
    }

    /// <summary>True after <see cref="FreezeForServing"/>.</summary>
    public bool Frozen => _transposed is not null;

    public void SetParameters(ReadOnlySpan<float> values)
    {
        if (Frozen)
            throw new InvalidOperationException("This flow is frozen for serving; its parameters cannot change.");
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
        // Pooled: a fresh array of a large batch's latents costs its page faults on every call.
        var pooled = ArrayPool<float>.Shared.Rent(x.Length);
        try
        {
            var z = pooled.AsMemory(0, x.Length);
            Encode(x, rows, context, z.Span, logProb);
            if (Base is StandardNormal)
            {
                Base.AddLogDensity([], z.Span, logProb);
                return;
            }
            // A mixture costs K·D² per row: spread large batches over the cores like the transforms.
            var parameters = GetParameters();
            var sums = logProb.ToArray();
            int shards = ShardsFor(rows, Features, ShardRunner.Shared.Degree);
            ShardRunner.Shared.Run(shards, shard =>
            {
                var range = ShardRange.Of(rows, shards, shard);
                Base.AddLogDensity(parameters, z.Span.Slice(range.Start * Features, range.Count * Features), sums.AsSpan(range.Start, range.Count));
            });
            sums.CopyTo(logProb);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pooled);
        }
    }

    /// <summary>z = f(x) and log|det ∂z/∂x| per row (normalization included).</summary>
    public void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet)
    {
        CheckBatch(x, rows, context);
        RequireLength(z.Length, rows * Features, nameof(z));
        RequireLength(logDet.Length, rows, nameof(logDet));
        RunSharded(rows, x, context, z, logDet, inverse: false);
    }

    /// <summary>x = f⁻¹(z) (normalization included, so x is in the client's units).</summary>
    public void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x)
    {
        CheckBatch(z, rows, context);
        RequireLength(x.Length, rows * Features, nameof(x));
        RunSharded(rows, z, context, x, Span<float>.Empty, inverse: true);
    }

    /// <summary>
    /// x = T(z) and log q(x) = log N(z) - log|det ∂T/∂z| in one pass per row, for a <see cref="Generative"/> flow
    /// (the sampling path of reverse-KL fitting and its importance weights).
    /// </summary>
    public void DecodeWithLogDensity(ReadOnlySpan<float> z, int rows, Span<float> x, Span<float> logDensity)
    {
        if (!Generative)
            throw new InvalidOperationException("DecodeWithLogDensity needs a generative flow; score the decoded rows with LogProb instead.");
        CheckBatch(z, rows, ReadOnlySpan<float>.Empty);
        RequireLength(x.Length, rows * Features, nameof(x));
        RequireLength(logDensity.Length, rows, nameof(logDensity));
        RunSharded(rows, z, [], x, logDensity, inverse: true);
        for (int r = 0; r < rows; r++)
            logDensity[r] = (float)(BaseLogDensity(z.Slice(r * Features, Features)) - logDensity[r]);
    }


    /// <summary>
    /// n samples x = f⁻¹(z), z drawn from the base with its noise scaled by the temperature (N(0, I): z = T · ε),
    /// from <paramref name="seed"/>: the same seed gives the same samples.
    /// </summary>
    public void Sample(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var z = new float[n * Features];
        if (Base is StandardNormal)
            StandardNormal.Sample(z, seed, temperature);
        else
            Base.Sample(GetParameters(), z, seed, temperature);
        Decode(z, n, context, x);
    }

    /// <summary>A context for one training shard, with this shard's gradient arena (1 x Parameters.Length on the backend).</summary>
    public FlowContext CreateTrainingContext(Tensor gradients) => new(Backend, Parameters, gradients);

    /// <summary>A training context over a shared <paramref name="workspace"/> (one shard at a time may use it).</summary>
    public FlowContext CreateTrainingContext(Tensor gradients, Workspace workspace) => new(Backend, Parameters, gradients, workspace);

    /// <summary>A zero gradient arena shaped like <see cref="Parameters"/>.</summary>
    public Tensor AllocateGradients() => Backend.Allocate(1, Parameters.Length);

    /// <summary>
    /// The training step of one shard: forward with recording, log p per row, and backward of
    /// L = -weight · Σ_rows log p into <c>context.Gradients</c> (<b>accumulated</b>). With weight
    /// = 1/B for a batch of B rows split over shards, the shards' gradient arenas sum to the
    /// gradient of the mean NLL. Returns Σ_rows -log p of this shard (unweighted, in double).
    /// </summary>
    public double AccumulateGradients(FlowContext context, Tensor x, Tensor? condition, float weight) => AccumulateGradients(context, x, condition, weight, null);

    /// <summary>
    /// <see cref="AccumulateGradients(FlowContext, Tensor, Tensor?, float)"/> that also <b>overwrites</b>
    /// <paramref name="inputGradient"/> (rows x Features) with dL/dx, L = -weight · Σ log p(x): the path by which a
    /// dequantizer's noise u in x = k + u is trained through this flow (variational dequantization).
    /// </summary>
    public double AccumulateGradients(FlowContext context, Tensor x, Tensor? condition, float weight, Tensor? inputGradient)
    {
        if (Generative)
            throw new InvalidOperationException("A generative flow is fitted by reverse KL (AccumulateReverseKlGradients); maximum likelihood needs a flow in the density direction.");
        var logProb = ForwardAndBackward(context, x, condition, weight, inputGradient);
        var host = new float[x.Rows];
        context.Backend.Download(logProb, host);
        double nll = 0;
        foreach (float value in host)
            nll -= value;
        return nll;
    }

    /// <summary>
    /// log p(x) per row and the score ∂ log p(x_r) / ∂x_r per row (rows x Features, row-major), both
    /// in the client's units (the normalization's Jacobian included). No transform mixes rows, so
    /// one backward pass of Σ_r log p(x_r) yields every row's own gradient. One shard on the calling
    /// thread; the parameters are only read (their gradients go to a scratch arena).
    /// </summary>
    public void LogProbAndInputGradient(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb, Span<float> inputGradient)
    {
        CheckBatch(x, rows, context);
        RequireLength(logProb.Length, rows, nameof(logProb));
        RequireLength(inputGradient.Length, rows * Features, nameof(inputGradient));
        if (rows == 0)
            return;
        var (tx, condition) = UploadBatch(x, rows, context);
        var dx = Backend.Allocate(rows, Features);
        // weight -1: the backward pass differentiates L = +Σ log p, so dL/dx is the score itself.
        var result = ForwardAndBackward(CreateTrainingContext(AllocateGradients()), tx, condition, -1f, dx);
        Backend.Download(result, logProb);
        Backend.Download(dx, inputGradient);
    }

    /// <summary>
    /// The reverse-KL step of one shard of a generative flow: x = T(z) with recording, log q(x) = log N(z) -
    /// log|det ∂T/∂z|, the target's log p̃(x) and ∇ log p̃, and the backward of L = weight · Σ_rows (log q - log p̃)
    /// through T into <c>context.Gradients</c> (<b>accumulated</b>). z is fixed noise, so this is the exact
    /// reparameterization gradient of the shard's share of E_q[log q - log p̃]. Writes the importance log-weights
    /// log p̃(x) - log q(x) per row into <paramref name="logWeights"/> and returns Σ_rows (log q - log p̃) in double.
    /// </summary>
    public double AccumulateReverseKlGradients(FlowContext context, Tensor z, TargetDensity target, float weight, Span<double> logWeights)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!Generative)
            throw new InvalidOperationException("Reverse-KL fitting trains a generative flow (created with generative: true).");
        if (z.Cols != Features || target.Dimensions != Features)
            throw new ArgumentException($"z and the target must have {Features} dimensions (z has {z.Cols}, the target {target.Dimensions}).", nameof(z));
        int rows = z.Rows;
        RequireLength(logWeights.Length, rows, nameof(logWeights));
        var backend = context.Backend;
        var workspace = context.Workspace;
        var x = workspace.Get(this, "sampleX", rows, Features);
        var logDet = workspace.Get(this, "sampleLogDet", rows, 1);
        GenerativeForward(context, z, null, x, logDet);

        var zHost = new float[rows * Features];
        var xHost = new float[rows * Features];
        var logDetHost = new float[rows];
        backend.Download(z, zHost);
        backend.Download(x, xHost);
        backend.Download(logDet, logDetHost);
        var logTarget = new double[rows];
        var gradient = new double[rows * Features];
        target.LogDensity(xHost, rows, logTarget, gradient);

        var dx = new float[rows * Features];
        for (int i = 0; i < dx.Length; i++)
            dx[i] = (float)(-weight * gradient[i]);
        var dxTensor = workspace.Get(this, "sampleDx", rows, Features);
        backend.Upload(dx, dxTensor);
        var dLogDet = workspace.Get(this, "sampleDLogDet", rows, 1);
        backend.Fill(dLogDet, -weight);
        GenerativeBackward(context, dxTensor, dLogDet, workspace.Get(this, "sampleDz", rows, Features));

        double loss = 0;
        for (int r = 0; r < rows; r++)
        {
            double logQ = BaseLogDensity(zHost.AsSpan(r * Features, Features)) - logDetHost[r];
            logWeights[r] = logTarget[r] - logQ;
            loss -= logWeights[r];
        }
        return loss;
    }

    /// <summary>
    /// The sampling path of a <see cref="Generative"/> flow with recording: x = T(z; condition), and <b>overwrites</b>
    /// <paramref name="logDet"/> (rows x 1) with log|det ∂x/∂z|. <see cref="GenerativeBackward"/> then differentiates it.
    /// </summary>
    public void GenerativeForward(FlowContext context, Tensor z, Tensor? condition, Tensor x, Tensor logDet)
    {
        if (!Generative)
            throw new InvalidOperationException("GenerativeForward needs a generative flow.");
        if (ContextFeatures > 0 && (condition is null || condition.Rows != z.Rows || condition.Cols != ContextFeatures))
            throw new ArgumentException($"The flow is conditional: the condition must be {z.Rows}x{ContextFeatures}.", nameof(condition));
        context.Condition = condition;
        context.RecordForBackward = true;
        context.Backend.Fill(logDet, 0f);
        Transform.Forward(context, z, x, logDet);
    }

    /// <summary>
    /// Given dL/dx and dL/dlogDet of the last <see cref="GenerativeForward"/> on this context, <b>accumulates</b> dL/dθ
    /// into <c>context.Gradients</c> (and dL/dcondition into <c>context.ConditionGradient</c> when set) and writes dL/dz.
    /// </summary>
    public void GenerativeBackward(FlowContext context, Tensor dx, Tensor dLogDet, Tensor dz)
    {
        Transform.Backward(context, dx, dLogDet, dz);
        context.RecordForBackward = false;
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
        var (tx, condition) = UploadBatch(x, rows, context);
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
    /// The data-dependent initialisation (Glow's ActNorm, <see cref="WhiteningLinear"/>, a mixture base): runs
    /// <paramref name="x"/> (the first training rows) through the chain, nested chains and image factor-outs included, and
    /// lets every <see cref="IDataInitialized"/> transform set its parameters from the rows that reach
    /// it, in chain order, so each sees the output of the already-initialised ones before it; last, a
    /// data-initialised base fits itself to the latent codes of the rows.
    /// A no-op for flows without such transforms or base.
    /// </summary>
    public void InitializeFromData(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context)
    {
        if (Frozen)
            throw new InvalidOperationException("This flow is frozen for serving; its parameters cannot change.");
        CheckBatch(x, rows, context);
        if (!HasDataInitialization(Transform) && Base is not IDataInitialized)
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
        // A mixture base clusters the rows as they enter the chain (standardized), where k-means still sees which directions
        // separate them; the chain's whitening would give noise directions the same weight (GaussianMixtureFit.Fit).
        float[]? entering = null;
        if (Base is GaussianMixtureBase)
        {
            entering = new float[h.Length];
            Backend.Download(h, entering);
        }
        var z = InitializeFromData(Transform, flowContext, h, host);
        if (Base is IDataInitialized latentInitialized)
        {
            var latent = new float[z.Length];
            Backend.Download(z, latent);
            if (latentInitialized is GaussianMixtureBase mixture && entering is not null && z.Rows == rows)
                mixture.InitializeFromData(latent, entering, entering.Length / rows, host);
            else
                latentInitialized.InitializeFromData(latent, host);
            SetParameters(host);
        }
    }

    private static bool HasDataInitialization(ITransform transform) => transform switch
    {
        IDataInitialized => true,
        Chain chain => chain.Transforms.Any(HasDataInitialization),
        FactorOut factorOut => HasDataInitialization(factorOut.Inner),
        _ => false,
    };

    /// <summary>
    /// Initialises <paramref name="transform"/>'s data-dependent parts from its input <paramref name="h"/>, in flow
    /// order (chains part by part, a factor-out's inner flow on the kept columns), and returns its output for
    /// <paramref name="h"/> with the new parameters: what the next transform, or the base, starts from.
    /// </summary>
    private Tensor InitializeFromData(ITransform transform, FlowContext flowContext, Tensor h, float[] host)
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
                foreach (var part in chain.Transforms)
                    h = InitializeFromData(part, flowContext, h, host);
                return h;
            case FactorOut factorOut:
                var kept = Backend.Allocate(h.Rows, factorOut.Kept);
                Backend.CopyColumns(h, 0, kept, 0, factorOut.Kept);
                InitializeFromData(factorOut.Inner, flowContext, kept, host);
                break;
        }
        var output = Backend.Allocate(h.Rows, h.Cols);
        transform.Forward(flowContext, h, output, Backend.Allocate(h.Rows, 1));
        return output;
    }

    /// <summary>
    /// Forward with recording, log p per row, and backward of L = -weight · Σ_rows log p: parameter
    /// gradients accumulate into <c>context.Gradients</c>; dL/dx goes to <paramref name="inputGradient"/>
    /// when one is given (the normalization's backward only runs then). Returns the log p tensor (rows x 1).
    /// </summary>
    private Tensor ForwardAndBackward(FlowContext context, Tensor x, Tensor? condition, float weight, Tensor? inputGradient)
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
        Base.LogDensity(context, z, logProb);
        backend.AddScaled(logDet, 1f, logProb);

        var dz = workspace.Get(this, "dz", rows, Features);
        Base.LogDensityBackward(context, z, -weight, dz);
        var dLogDet = workspace.Get(this, "dLogDet", rows, 1);
        backend.Fill(dLogDet, -weight);
        var dh = Normalization is null && inputGradient is not null ? inputGradient : workspace.Get(this, "dh", rows, Features);
        Transform.Backward(context, dz, dLogDet, dh);
        if (Normalization is not null && inputGradient is not null)
            Normalization.Backward(context, dh, dLogDet, inputGradient);
        context.RecordForBackward = false;
        return logProb;
    }

    private (Tensor X, Tensor? Condition) UploadBatch(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context)
    {
        var tx = Backend.Allocate(rows, Features);
        Backend.Upload(x, tx);
        Tensor? condition = null;
        if (ContextFeatures > 0)
        {
            condition = Backend.Allocate(rows, ContextFeatures);
            Backend.Upload(context, condition);
        }
        return (tx, condition);
    }


    /// <summary>How many shards a host call of <paramref name="rows"/> rows is split into: at most one per thread, each of at least the minimum rows for its width.</summary>
    internal static int ShardsFor(int rows, int features, int degree) =>
        Math.Clamp(rows / Math.Max(4, MinRowsPerShard * NarrowRowFeatures / Math.Max(features, NarrowRowFeatures)), 1, Math.Max(1, degree));

    /// <summary>The most rows of <paramref name="features"/> values one shard runs at a time (<see cref="MaxChunkValues"/>, <see cref="MaxWideChunkValues"/>).</summary>
    public static int ChunkRowsFor(int features) =>
        Math.Max(1, (features > NarrowRowFeatures ? MaxWideChunkValues : MaxChunkValues) / Math.Max(1, features));

    /// <summary>
    /// The chain over <paramref name="input"/>'s rows in shards and chunks, straight from the caller's memory into theirs:
    /// no copies of the batch (each a fresh large array whose pages a VM faults in at ~20 µs per 4 KB, ~1,150 faults
    /// for 500 images of 28x28). Each chunk is uploaded to the workspace before its own rows of the output are written,
    /// so <paramref name="output"/> may be <paramref name="input"/> itself.
    /// </summary>
    private unsafe void RunSharded(int rows, ReadOnlySpan<float> input, ReadOnlySpan<float> context, Span<float> output, Span<float> logDet, bool inverse)
    {
        int shards = ShardsFor(rows, Features, ShardRunner.Shared.Degree);
        fixed (float* inputPointer = input, contextPointer = context, outputPointer = output, logDetPointer = logDet)
        {
            // Pointers, not spans, cross into the shards' lambda (a span cannot be captured); the fixed block outlives Run.
            nint inputs = (nint)inputPointer, contexts = (nint)contextPointer, outputs = (nint)outputPointer, logDets = (nint)logDetPointer;
            bool hasContext = !context.IsEmpty, hasLogDet = !logDet.IsEmpty;
            ShardRunner.Shared.Run(shards, shard =>
            {
                var range = ShardRange.Of(rows, shards, shard);
                if (range.Count == 0)
                    return;
                var flowContext = Rent();
                var scratchLogDet = hasLogDet ? null : new float[range.Count];
                try
                {
                    // In chunks: a shard's workspace grows with its rows times the widest activation (an image flow's
                    // convolutions hold channels x pixels per row), so a bounded chunk bounds the memory. Equal chunks
                    // (41 rows: 9, 9, 9, 9, 5 rather than 10, 10, 10, 10, 1): a one-row tail runs every layer at its worst efficiency.
                    int maxRows = ChunkRowsFor(Features);
                    int chunks = (range.Count + maxRows - 1) / maxRows;
                    int chunkRows = (range.Count + chunks - 1) / chunks;
                    for (int start = range.Start; start < range.Start + range.Count; start += chunkRows)
                    {
                        int count = Math.Min(chunkRows, range.Start + range.Count - start);
                        RunRows(flowContext,
                            new ReadOnlySpan<float>((float*)inputs + (long)start * Features, count * Features),
                            hasContext ? new ReadOnlySpan<float>((float*)contexts + (long)start * ContextFeatures, count * ContextFeatures) : ReadOnlySpan<float>.Empty,
                            new Span<float>((float*)outputs + (long)start * Features, count * Features),
                            hasLogDet ? new Span<float>((float*)logDets + start, count) : scratchLogDet.AsSpan(start - range.Start, count),
                            count, inverse);
                    }
                }
                finally
                {
                    _contexts.Enqueue(flowContext);
                }
            });
        }
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
        if (Generative)
        {
            RunGenerativeRows(flowContext, a, b, c, output, logDetHost, rows, inverse);
            return;
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

    /// <summary>
    /// The host calls of a generative flow: decoding is the chain's Forward; encoding is its Inverse, then its
    /// Forward at the latent found to get log|det ∂x/∂z|, whose negative is log|det ∂z/∂x|.
    /// </summary>
    private void RunGenerativeRows(FlowContext flowContext, Tensor a, Tensor b, Tensor c, Span<float> output, Span<float> logDetHost, int rows, bool inverse)
    {
        var logDet = flowContext.Workspace.Get(this, "hostLogDet", rows, 1);
        Backend.Fill(logDet, 0f);
        if (inverse)
        {
            // Decoding a generative flow computes log|det ∂x/∂z| on the way; DecodeWithLogDensity keeps it.
            Transform.Forward(flowContext, a, b, logDet);
            Backend.Download(b, output);
            Backend.Download(logDet, logDetHost);
            return;
        }
        Transform.Inverse(flowContext, a, b);
        Transform.Forward(flowContext, b, c, logDet);
        Backend.Download(b, output);
        Backend.Download(logDet, logDetHost);
        for (int r = 0; r < rows; r++)
            logDetHost[r] = -logDetHost[r];
    }

    private FlowContext Rent() => _contexts.TryDequeue(out var context) ? context : new FlowContext(Backend, Parameters) { TransposedParameters = _transposed };

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
