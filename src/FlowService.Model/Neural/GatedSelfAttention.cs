using FlowService.Model.Compute;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Neural;

/// <summary>
/// Multi-head gated self-attention over the m input features of a coupling's conditioner, treated as m tokens (Flow++'s
/// conditioner idea, Ho et al. 2019, section 3.3, for vector data): token i is e_i = h_i · a_i + c_i (a per-position
/// embedding, so positions are told apart), Q, K, V = E W_{q,k,v}ᵀ + b, per head softmax(Q_h K_hᵀ / √d_h) V_h, the heads
/// concatenated and projected (O = A W_oᵀ + b_o), and a gated residual R = E + σ(E W_gᵀ + b_g) ⊙ O. Output: R flattened
/// (rows x m·E, token-major). Parameters: <c>embed.scale|shift</c> [m, E] (a_i, c_i), <c>query|key|value|output|gate.weight</c>
/// [E, E] and <c>.bias</c> [1, E] (nn.Linear layout). Forward caches nothing outside the workspace; the backward is
/// written out by hand (host loops in float on the CPU backend).
/// </summary>
public sealed class GatedSelfAttention
{
    private static readonly string[] Projections = ["query", "key", "value", "output", "gate"];
    private ParameterSlot _embedWeight = null!, _embedBias = null!;
    private readonly ParameterSlot[] _weights = new ParameterSlot[5], _biases = new ParameterSlot[5];

    public GatedSelfAttention(int tokens, int embedding, int heads)
    {
        if (tokens < 1) throw new ArgumentOutOfRangeException(nameof(tokens));
        if (heads < 1 || embedding < heads || embedding % heads != 0)
            throw new ArgumentException($"The embedding ({embedding}) must be a positive multiple of the heads ({heads}).");
        Tokens = tokens;
        Embedding = embedding;
        Heads = heads;
    }

    public int Tokens { get; }

    public int Embedding { get; }

    public int Heads { get; }

    public int OutFeatures => Tokens * Embedding;

    public void DeclareParameters(ParameterScope scope)
    {
        _embedWeight = scope.Add("embed.scale", Tokens, Embedding);
        _embedBias = scope.Add("embed.shift", Tokens, Embedding);
        for (int p = 0; p < Projections.Length; p++)
        {
            _weights[p] = scope.Add($"{Projections[p]}.weight", Embedding, Embedding);
            _biases[p] = scope.Add($"{Projections[p]}.bias", 1, Embedding);
        }
    }

    public void InitializeParameters(ParameterInitializer initializer)
    {
        initializer.Normal(_embedWeight, 1f);
        initializer.Normal(_embedBias, 0.1f);
        for (int p = 0; p < Projections.Length; p++)
        {
            initializer.Uniform(_weights[p], Embedding);
            initializer.Uniform(_biases[p], Embedding);
        }
    }

    /// <summary>R (rows x m·E) from h (rows x m); caches E, Q, K, V, P, A, O and the gate in the workspace for Backward.</summary>
    public void Forward(FlowContext context, Tensor input, Tensor output)
    {
        int rows = input.Rows, m = Tokens, e = Embedding;
        var h = input.Span();
        var r = output.Span();
        var cache = Cache(context, rows);
        for (int row = 0; row < rows; row++)
            ForwardRow(context, h.Slice(row * m, m), r.Slice(row * m * e, m * e), cache, row);
    }

    private void ForwardRow(FlowContext context, ReadOnlySpan<float> h, Span<float> r, RowCache cache, int row)
    {
        int m = Tokens, e = Embedding, heads = Heads, dh = e / heads;
        var a = context.Param(_embedWeight).Span();
        var c = context.Param(_embedBias).Span();
        var tokens = cache.Tokens.Row(row);
        for (int i = 0; i < m; i++)
            for (int k = 0; k < e; k++)
                tokens[i * e + k] = h[i] * a[i * e + k] + c[i * e + k];
        var q = cache.Query.Row(row);
        var key = cache.Key.Row(row);
        var v = cache.Value.Row(row);
        var gate = cache.Gate.Row(row);
        Project(context, 0, tokens, q);
        Project(context, 1, tokens, key);
        Project(context, 2, tokens, v);
        Project(context, 4, tokens, gate);
        for (int i = 0; i < gate.Length; i++)
            gate[i] = 1f / (1f + MathF.Exp(-gate[i]));
        var p = cache.Attention.Row(row); // heads x m x m
        var attended = cache.Attended.Row(row);
        float scale = 1f / MathF.Sqrt(dh);
        for (int head = 0; head < heads; head++)
            for (int i = 0; i < m; i++)
            {
                var weights = p.Slice((head * m + i) * m, m);
                float max = float.NegativeInfinity;
                for (int j = 0; j < m; j++)
                {
                    float s = 0;
                    for (int k = head * dh; k < (head + 1) * dh; k++)
                        s += q[i * e + k] * key[j * e + k];
                    weights[j] = s * scale;
                    max = MathF.Max(max, weights[j]);
                }
                float sum = 0;
                for (int j = 0; j < m; j++)
                    sum += weights[j] = MathF.Exp(weights[j] - max);
                for (int j = 0; j < m; j++)
                    weights[j] /= sum;
                for (int k = head * dh; k < (head + 1) * dh; k++)
                {
                    float value = 0;
                    for (int j = 0; j < m; j++)
                        value += weights[j] * v[j * e + k];
                    attended[i * e + k] = value;
                }
            }
        var o = cache.Output.Row(row);
        Project(context, 3, attended, o);
        for (int i = 0; i < r.Length; i++)
            r[i] = tokens[i] + gate[i] * o[i];
    }

    /// <summary>dL/dh (rows x m, when not null) from dL/dR; accumulates every parameter's gradient.</summary>
    public void Backward(FlowContext context, Tensor input, Tensor dOutput, Tensor? dInput)
    {
        int rows = input.Rows, m = Tokens, e = Embedding, heads = Heads, dh = e / heads;
        var h = input.Span();
        var dr = dOutput.Span();
        var cache = Cache(context, rows);
        var a = context.Param(_embedWeight).Span();
        var gA = context.Grad(_embedWeight).Span();
        var gC = context.Grad(_embedBias).Span();
        var dh_ = dInput is null ? Span<float>.Empty : dInput.Span();
        float scale = 1f / MathF.Sqrt(dh);
        var dTokens = new float[m * e];
        var dQ = new float[m * e];
        var dK = new float[m * e];
        var dV = new float[m * e];
        var dAttended = new float[m * e];
        var dO = new float[m * e];
        var dGate = new float[m * e];
        var dWeights = new float[m];
        for (int row = 0; row < rows; row++)
        {
            var drRow = dr.Slice(row * m * e, m * e);
            var tokens = cache.Tokens.Row(row);
            var q = cache.Query.Row(row);
            var key = cache.Key.Row(row);
            var v = cache.Value.Row(row);
            var gate = cache.Gate.Row(row);
            var p = cache.Attention.Row(row);
            var attended = cache.Attended.Row(row);
            var o = cache.Output.Row(row);
            for (int i = 0; i < m * e; i++)
            {
                dTokens[i] = drRow[i];
                dO[i] = drRow[i] * gate[i];
                dGate[i] = drRow[i] * o[i] * gate[i] * (1 - gate[i]); // through σ to the gate's pre-activation
            }
            ProjectBackward(context, 4, tokens, dGate, dTokens);
            Array.Clear(dAttended);
            ProjectBackward(context, 3, attended, dO, dAttended);
            Array.Clear(dQ);
            Array.Clear(dK);
            Array.Clear(dV);
            for (int head = 0; head < heads; head++)
                for (int i = 0; i < m; i++)
                {
                    var weights = p.Slice((head * m + i) * m, m);
                    float dot = 0;
                    for (int j = 0; j < m; j++)
                    {
                        float dw = 0;
                        for (int k = head * dh; k < (head + 1) * dh; k++)
                        {
                            dw += dAttended[i * e + k] * v[j * e + k];
                            dV[j * e + k] += weights[j] * dAttended[i * e + k];
                        }
                        dWeights[j] = dw;
                        dot += dw * weights[j];
                    }
                    for (int j = 0; j < m; j++)
                    {
                        float ds = weights[j] * (dWeights[j] - dot) * scale; // softmax, then the 1/√d_h scale
                        if (ds == 0)
                            continue;
                        for (int k = head * dh; k < (head + 1) * dh; k++)
                        {
                            dQ[i * e + k] += ds * key[j * e + k];
                            dK[j * e + k] += ds * q[i * e + k];
                        }
                    }
                }
            ProjectBackward(context, 0, tokens, dQ, dTokens);
            ProjectBackward(context, 1, tokens, dK, dTokens);
            ProjectBackward(context, 2, tokens, dV, dTokens);
            for (int i = 0; i < m; i++)
            {
                float dInputI = 0;
                for (int k = 0; k < e; k++)
                {
                    float g = dTokens[i * e + k];
                    gA[i * e + k] += g * h[row * m + i];
                    gC[i * e + k] += g;
                    dInputI += g * a[i * e + k];
                }
                if (!dh_.IsEmpty)
                    dh_[row * m + i] = dInputI;
            }
        }
    }

    /// <summary>y (m x E) = x W_pᵀ + b_p for projection p.</summary>
    private void Project(FlowContext context, int projection, ReadOnlySpan<float> x, Span<float> y)
    {
        int m = Tokens, e = Embedding;
        var w = context.Param(_weights[projection]).Span();
        var b = context.Param(_biases[projection]).Span();
        for (int i = 0; i < m; i++)
            for (int o = 0; o < e; o++)
            {
                float sum = b[o];
                for (int k = 0; k < e; k++)
                    sum += x[i * e + k] * w[o * e + k];
                y[i * e + o] = sum;
            }
    }

    /// <summary>Given dy (m x E) of y = x W_pᵀ + b_p: accumulates dW_p, db_p and adds dy W_p into dx.</summary>
    private void ProjectBackward(FlowContext context, int projection, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        int m = Tokens, e = Embedding;
        var w = context.Param(_weights[projection]).Span();
        var gw = context.Grad(_weights[projection]).Span();
        var gb = context.Grad(_biases[projection]).Span();
        for (int i = 0; i < m; i++)
            for (int o = 0; o < e; o++)
            {
                float g = dy[i * e + o];
                if (g == 0)
                    continue;
                gb[o] += g;
                for (int k = 0; k < e; k++)
                {
                    gw[o * e + k] += g * x[i * e + k];
                    dx[i * e + k] += g * w[o * e + k];
                }
            }
    }

    private RowCache Cache(FlowContext context, int rows)
    {
        int me = Tokens * Embedding;
        Tensor Get(string name, int cols) => context.Workspace.Get(this, name, rows, cols);
        return new RowCache(Get("tokens", me), Get("query", me), Get("key", me), Get("value", me), Get("gate", me),
            Get("attention", Heads * Tokens * Tokens), Get("attended", me), Get("output", me));
    }

    private sealed record RowCache(Tensor Tokens, Tensor Query, Tensor Key, Tensor Value, Tensor Gate, Tensor Attention, Tensor Attended, Tensor Output);
}
