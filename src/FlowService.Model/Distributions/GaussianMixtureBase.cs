using System.Buffers;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using FlowService.Model.Compute;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Distributions;

/// <summary>
/// A mixture of K Gaussians as the base of a flow: p(z) = Σ_k π_k N(z; μ_k, Σ_k) with Σ_k⁻¹ = U_kᵀ U_k and U_k lower
/// triangular (the precision's Cholesky factor, as scikit-learn's precisions_cholesky), so
/// log N(z; μ_k, Σ_k) = -½|U_k (z - μ_k)|² + log det U_k - (D/2) log 2π needs one triangular product and no solve;
/// log p = logsumexp_k (log π_k + log N_k), in double precision per row.
/// </summary>
/// <remarks>
/// Parameters (scope <c>base.</c>): <c>logits</c> [1, K] (π = softmax), <c>means</c> [K, D], <c>logScale</c> [K, D]
/// with diag U_k = exp(-logScale_k), so for a diagonal covariance logScale is the log standard deviation, and, for
/// "full" covariance only, <c>precisionLower</c> [K·D, D], whose rows k·D … k·D + D - 1 hold the strictly lower part
/// of U_k (the rest unused). Starting values come from the data (<see cref="InitializeFromData"/>: seeded
/// k-means++ and EM on the latent codes of the first training rows), after the transforms' own data-dependent
/// init. Sampling draws the component from π, then z = μ_k + U_k⁻¹ (T · ε): the temperature scales each
/// component's noise, not the choice of component. Clustered data (classes) then need no transform that tears
/// one Gaussian into several modes.
/// </remarks>
public sealed class GaussianMixtureBase : IBaseDistribution, IDataInitialized
{
    private static readonly double HalfLogTwoPi = 0.5 * Math.Log(2 * Math.PI);

    private ParameterSlot? _logits, _means, _logScale, _lower;

    public GaussianMixtureBase(int features, int components, bool diagonal, double shrinkage, int seed)
    {
        if (!(shrinkage >= 0 && shrinkage < 1))
            throw new ArgumentOutOfRangeException(nameof(shrinkage), $"The shrinkage must be in [0, 1), not {shrinkage}.");
        Shrinkage = shrinkage;
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        Features = features;
        Components = components;
        Diagonal = diagonal;
        Seed = seed;
    }

    public int Features { get; }

    public int Components { get; }

    /// <summary>Diagonal covariances (no <c>precisionLower</c>) rather than full ones.</summary>
    public bool Diagonal { get; }

    /// <summary>λ of the starting fit: Σ_k = (1 - λ) S_k + λ S, S the covariance of all initialization rows (<see cref="GaussianMixtureFit"/>).</summary>
    public double Shrinkage { get; }

    /// <summary>Seeds k-means++ in <see cref="InitializeFromData"/>.</summary>
    public int Seed { get; }

    public void DeclareParameters(ParameterScope scope)
    {
        _logits = scope.Add("logits", 1, Components);
        _means = scope.Add("means", Components, Features);
        _logScale = scope.Add("logScale", Components, Features);
        _lower = Diagonal ? null : scope.Add("precisionLower", Components * Features, Features);
    }

    /// <summary>Equal weights, unit covariances and means drawn from N(0, I): distinct, so the components can part.</summary>
    public void InitializeParameters(ParameterInitializer initializer) => initializer.Normal(Slot(_means), 1f);

    /// <summary>Sets every parameter from a mixture fitted to <paramref name="inputs"/>, the latent codes of the first training rows.</summary>
    public void InitializeFromData(ReadOnlySpan<float> inputs, Span<float> parameters) => InitializeFromData(inputs, default, 0, parameters);

    /// <summary>
    /// As <see cref="InitializeFromData(ReadOnlySpan{float}, Span{float})"/>, with the k-means start on <paramref name="clustering"/>
    /// (the same rows before the flow: standardized columns, where distances still weigh the directions that separate clusters
    /// above the noise; see <see cref="GaussianMixtureFit.Fit"/>) and EM on the latent codes.
    /// </summary>
    public void InitializeFromData(ReadOnlySpan<float> inputs, ReadOnlySpan<float> clustering, int clusteringFeatures, Span<float> parameters)
    {
        var fit = GaussianMixtureFit.Fit(inputs, Features, Components, Diagonal, Shrinkage, Seed, clustering, clusteringFeatures);
        int d = Features;
        for (int k = 0; k < Components; k++)
        {
            parameters[Slot(_logits).Offset + k] = (float)Math.Log(Math.Max(fit.Weights[k], 1e-12));
            var factor = fit.CholeskyFactors[k];
            // U = C⁻¹ column by column (forward substitution on the identity): Σ = C Cᵀ gives Σ⁻¹ = Uᵀ U.
            var inverse = new double[d * d];
            for (int column = 0; column < d; column++)
                for (int i = column; i < d; i++)
                {
                    double sum = i == column ? 1 : 0;
                    for (int m = column; m < i; m++)
                        sum -= factor[i * d + m] * inverse[m * d + column];
                    inverse[i * d + column] = sum / factor[i * d + i];
                }
            for (int i = 0; i < d; i++)
            {
                parameters[Slot(_means).Offset + k * d + i] = (float)fit.Means[k][i];
                parameters[Slot(_logScale).Offset + k * d + i] = (float)Math.Log(factor[i * d + i]);
                if (_lower is not null)
                    for (int j = 0; j < d; j++)
                        parameters[_lower.Offset + (k * d + i) * d + j] = j < i ? (float)inverse[i * d + j] : 0f;
            }
        }
    }

    public void LogDensity(FlowContext context, Tensor z, Tensor logProb)
    {
        var backend = context.Backend;
        if (z.Storage is CpuStorage && logProb.Storage is CpuStorage)
        {
            logProb.Span().Clear();
            AddLogDensity(context.Parameters.Span(), z.Span(), logProb.Span());
            return;
        }
        // Other backends: the mixture runs on the host over copies (a few K·D² per row next to the transforms' GEMMs).
        var hostZ = new float[z.Length];
        backend.Download(z, hostZ);
        var hostLogProb = new float[z.Rows];
        AddLogDensity(Download(backend, context.Parameters), hostZ, hostLogProb);
        backend.Upload(hostLogProb, logProb);
    }

    public void LogDensityBackward(FlowContext context, Tensor z, float scale, Tensor dz)
    {
        var backend = context.Backend;
        // The base's slots are contiguous at the end of the arena: one host buffer from the first to the last.
        int origin = Slot(_logits).Offset;
        var last = _lower ?? Slot(_logScale);
        var gradient = new double[last.Offset + last.Length - origin];
        bool cpu = z.Storage is CpuStorage && dz.Storage is CpuStorage;
        var hostZ = cpu ? null : new float[z.Length];
        var hostDz = cpu ? null : new float[z.Length];
        if (!cpu)
            backend.Download(z, hostZ);
        var parameters = cpu ? context.Parameters.Span() : Download(backend, context.Parameters);
        Accumulate(parameters, cpu ? z.Span() : hostZ, scale, cpu ? dz.Span() : hostDz, gradient, origin);
        if (!cpu)
            backend.Upload(hostDz, dz);
        foreach (var slot in Slots())
        {
            var target = context.Grad(slot);
            var values = new float[slot.Length];
            if (target.Storage is not CpuStorage)
                backend.Download(target, values);
            var span = target.Storage is CpuStorage ? target.Span() : values;
            for (int i = 0; i < slot.Length; i++)
                span[i] += (float)gradient[slot.Offset - origin + i];
            if (target.Storage is not CpuStorage)
                backend.Upload(values, target);
        }
    }

    public void AddLogDensity(ReadOnlySpan<float> parameters, ReadOnlySpan<float> z, Span<float> logProb)
    {
        using var terms = new RowTerms(this, parameters);
        for (int r = 0; r < logProb.Length; r++)
            logProb[r] += (float)terms.Evaluate(parameters, z.Slice(r * Features, Features));
    }

    public void Sample(ReadOnlySpan<float> parameters, Span<float> z, int seed, float temperature)
    {
        StandardNormal.RequireTemperature(temperature);
        int d = Features, rows = z.Length / d;
        using var terms = new RowTerms(this, parameters);
        var random = new Random(seed);
        var noise = new double[d];
        for (int r = 0; r < rows; r++)
        {
            int k = terms.DrawComponent(random.NextDouble());
            for (int j = 0; j < d; j++)
                noise[j] = temperature * ParameterInitializer.StandardNormal(random);
            // Solve U_k · y = T · ε by forward substitution (U_k lower triangular); z = μ_k + y.
            for (int i = 0; i < d; i++)
            {
                double sum = noise[i];
                if (_lower is not null)
                    for (int j = 0; j < i; j++)
                        sum -= parameters[_lower.Offset + (k * d + i) * d + j] * noise[j];
                noise[i] = sum / terms.PrecisionDiagonal[k * d + i];
                z[r * d + i] = (float)(parameters[Slot(_means).Offset + k * d + i] + noise[i]);
            }
        }
    }

    /// <summary>dz = scale · ∂ log p / ∂z per row (overwrites); gradient[slot offset - origin + i] += scale · Σ_rows ∂ log p / ∂θ.</summary>
    private void Accumulate(ReadOnlySpan<float> parameters, ReadOnlySpan<float> z, float scale, Span<float> dz, double[] gradient, int origin)
    {
        int d = Features, rows = z.Length / d;
        using var terms = new RowTerms(this, parameters);
        int logits = Slot(_logits).Offset - origin, means = Slot(_means).Offset - origin, logScale = Slot(_logScale).Offset - origin;
        var v = new double[d];
        for (int r = 0; r < rows; r++)
        {
            terms.Evaluate(parameters, z.Slice(r * d, d));
            var dzRow = dz.Slice(r * d, d);
            dzRow.Clear();
            for (int k = 0; k < Components; k++)
            {
                // γ_k = responsibility; d log p / d a_k = γ_k with a_k = log π_k + log N_k.
                double g = terms.Responsibility[k];
                gradient[logits + k] += scale * (g - terms.Weight[k]);
                if (g == 0)
                    continue;
                var u = terms.Whitened.AsSpan(k * d, d);
                var centred = terms.Centred.AsSpan(k * d, d);
                // v = U_kᵀ u: d log N_k / dz = -v, d log N_k / dμ_k = v.
                for (int j = 0; j < d; j++)
                    v[j] = terms.PrecisionDiagonal[k * d + j] * u[j];
                if (_lower is not null)
                {
                    // Row i of U_k's strict lower part: v[..i] += U_k[i, ..i] u_i and dL/dU_k[i, ..i] -= scale γ u_i (z - μ_k)[..i],
                    // as vector operations over the row (K·D² of the row's work is here and in Evaluate).
                    var lower = terms.Lower.AsSpan(k * d * d, d * d);
                    for (int i = 1; i < d; i++)
                    {
                        int row = _lower.Offset + (k * d + i) * d;
                        TensorPrimitives.MultiplyAdd(lower.Slice(i * d, i), u[i], v.AsSpan(0, i), v.AsSpan(0, i));
                        var target = gradient.AsSpan(row - origin, i);
                        TensorPrimitives.MultiplyAdd(centred[..i], -scale * g * u[i], target, target);
                    }
                }
                for (int j = 0; j < d; j++)
                {
                    dzRow[j] -= (float)(scale * g * v[j]);
                    gradient[means + k * d + j] += scale * g * v[j];
                    // diag U = exp(-s): d log N / ds_j = u_j · r_j · U_jj - 1.
                    gradient[logScale + k * d + j] += scale * g * (u[j] * centred[j] * terms.PrecisionDiagonal[k * d + j] - 1);
                }
            }
        }
    }

    private IEnumerable<ParameterSlot> Slots() => _lower is null ? [Slot(_logits), Slot(_means), Slot(_logScale)] : [Slot(_logits), Slot(_means), Slot(_logScale), _lower];

    private static ParameterSlot Slot(ParameterSlot? slot) =>
        slot ?? throw new InvalidOperationException("DeclareParameters must run before the mixture is used.");

    private static float[] Download(IBackend backend, Tensor tensor)
    {
        var host = new float[tensor.Length];
        backend.Download(tensor, host);
        return host;
    }

    /// <summary>
    /// Per-call constants (log π, diag U = exp(-logScale), log det U, U's strict lower part in double) and one row's
    /// per-component work buffers. The lower part is copied to double once per call so that each row's triangular
    /// products are vector dot products and axpys over contiguous doubles (K·D² per row: 38,000 multiply-adds for 16
    /// components in 49-D, which ran scalar before); its buffer is pooled, being K·D² doubles (300 KB there) per call.
    /// </summary>
    private sealed class RowTerms : IDisposable
    {
        private readonly GaussianMixtureBase _owner;
        private readonly double[] _logNormalizer;

        public RowTerms(GaussianMixtureBase owner, ReadOnlySpan<float> parameters)
        {
            _owner = owner;
            int k = owner.Components, d = owner.Features;
            Weight = new double[k];
            PrecisionDiagonal = new double[k * d];
            _logNormalizer = new double[k];
            Centred = new double[k * d];
            Whitened = new double[k * d];
            Responsibility = new double[k];
            Lower = owner._lower is null ? [] : ArrayPool<double>.Shared.Rent(k * d * d);
            if (owner._lower is not null)
                TensorPrimitives.ConvertChecked(parameters.Slice(owner._lower.Offset, k * d * d), Lower.AsSpan(0, k * d * d));
            var logits = parameters.Slice(Slot(owner._logits).Offset, k);
            double max = double.NegativeInfinity;
            foreach (float l in logits)
                max = Math.Max(max, l);
            double sum = 0;
            foreach (float l in logits)
                sum += Math.Exp(l - max);
            double logSum = max + Math.Log(sum);
            var logScale = parameters.Slice(Slot(owner._logScale).Offset, k * d);
            for (int c = 0; c < k; c++)
            {
                Weight[c] = Math.Exp(logits[c] - logSum);
                double logDet = 0;
                for (int j = 0; j < d; j++)
                {
                    PrecisionDiagonal[c * d + j] = Math.Exp(-(double)logScale[c * d + j]);
                    logDet -= logScale[c * d + j];
                }
                _logNormalizer[c] = logits[c] - logSum + logDet - d * HalfLogTwoPi;
            }
        }

        public double[] Weight { get; }

        /// <summary>U_k's rows as in <c>precisionLower</c> (K·D x D, strict lower part used), in double; empty when diagonal.</summary>
        public double[] Lower { get; }

        public void Dispose()
        {
            if (Lower.Length > 0)
                ArrayPool<double>.Shared.Return(Lower);
        }

        /// <summary>diag U_k = exp(-logScale_k), K x D.</summary>
        public double[] PrecisionDiagonal { get; }

        /// <summary>z - μ_k per component (K x D), of the last evaluated row.</summary>
        public double[] Centred { get; }

        /// <summary>U_k (z - μ_k) per component (K x D), of the last evaluated row.</summary>
        public double[] Whitened { get; }

        /// <summary>The components' posterior probabilities given the last evaluated row.</summary>
        public double[] Responsibility { get; }

        /// <summary>log p(z) by logsumexp; fills the row buffers.</summary>
        public double Evaluate(ReadOnlySpan<float> parameters, ReadOnlySpan<float> z)
        {
            int k = _owner.Components, d = _owner.Features;
            int means = Slot(_owner._means).Offset, lower = _owner._lower?.Offset ?? -1;
            double max = double.NegativeInfinity;
            for (int c = 0; c < k; c++)
            {
                double squares = 0;
                for (int i = 0; i < d; i++)
                {
                    double centred = z[i] - (double)parameters[means + c * d + i];
                    Centred[c * d + i] = centred;
                    double u = PrecisionDiagonal[c * d + i] * centred;
                    if (lower >= 0)
                        u += TensorPrimitives.Dot<double>(Lower.AsSpan((c * d + i) * d, i), Centred.AsSpan(c * d, i));
                    Whitened[c * d + i] = u;
                    squares += u * u;
                }
                double a = _logNormalizer[c] - 0.5 * squares;
                Responsibility[c] = a;
                max = Math.Max(max, a);
            }
            double sum = 0;
            for (int c = 0; c < k; c++)
                sum += Math.Exp(Responsibility[c] - max);
            double logSum = max + Math.Log(sum);
            for (int c = 0; c < k; c++)
                Responsibility[c] = Math.Exp(Responsibility[c] - logSum);
            return logSum;
        }

        public int DrawComponent(double uniform)
        {
            for (int c = 0; c < Weight.Length - 1; c++)
            {
                uniform -= Weight[c];
                if (uniform < 0)
                    return c;
            }
            return Weight.Length - 1;
        }
    }
}
