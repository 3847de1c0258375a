using System.Buffers;

namespace FlowService.Model.Targets.Expressions;

/// <summary>
/// A log-density expression over x0..x{D-1}, parsed and compiled to a tape that is evaluated over many rows
/// at once, with exact reverse-mode gradients (one backward sweep per block of rows, in double precision).
/// </summary>
/// <remarks>
/// The language: numbers (1, 2.5, 1e-3), the constants pi and e, variables x0..x{D-1} and x[index]; + - * /
/// and ^ (right-associative, binding tighter than unary minus: -x0^2 = -(x0^2); an integer exponent works for
/// negative bases); exp, log, log1p, sqrt, sin, cos, tanh, softplus; sum(a, b, ...) and logsumexp(a, b, ...);
/// sum(i=a..b, term) and logsumexp(i=a..b, term) over an inclusive integer range, whose index may appear in
/// x[...] indices, in nested range bounds and as a number. Nothing is executed but these operations; the
/// source, nesting, ranges and compiled size are bounded (<see cref="ExpressionLimits"/>). Instances are
/// immutable and thread-safe.
/// </remarks>
public sealed class CompiledExpression
{
    private readonly TapeInstruction[] _tape;

    private CompiledExpression(string source, int dimensions, TapeInstruction[] tape, int usedColumns)
    {
        Source = source;
        Dimensions = dimensions;
        _tape = tape;
        UsedDimensions = usedColumns;
    }

    public string Source { get; }

    public int Dimensions { get; }

    /// <summary>How many of x0..x{D-1} the expression reads (a density that ignores a dimension is improper in it).</summary>
    public int UsedDimensions { get; }

    /// <summary>Instructions of the compiled tape (after unrolling and constant folding).</summary>
    public int Operations => _tape.Length;

    /// <summary>Parses and compiles; throws <see cref="ExpressionException"/> with the position of the first problem.</summary>
    public static CompiledExpression Compile(string source, int dimensions)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (dimensions < 1 || dimensions > ExpressionLimits.MaxDimensions)
            throw new ArgumentOutOfRangeException(nameof(dimensions), $"Dimensions must be between 1 and {ExpressionLimits.MaxDimensions}.");
        var syntax = ExpressionParser.Parse(source);
        var (tape, used) = ExpressionCompiler.Compile(syntax, dimensions);
        return new CompiledExpression(source, dimensions, tape, used);
    }

    /// <summary>
    /// value[r] = f(x[r]) for rows x D (row-major) <paramref name="x"/>; when <paramref name="gradient"/> is not
    /// empty (rows x D) it is <b>overwritten</b> with ∂f/∂x per row. Non-finite results are returned as they are.
    /// </summary>
    public void Evaluate(ReadOnlySpan<float> x, int rows, Span<double> value, Span<double> gradient)
    {
        int d = Dimensions;
        if (x.Length != rows * d)
            throw new ArgumentException($"x holds {x.Length} floats, {rows * d} are needed.", nameof(x));
        if (value.Length != rows)
            throw new ArgumentException($"value holds {value.Length} entries, {rows} are needed.", nameof(value));
        bool withGradient = !gradient.IsEmpty;
        if (withGradient && gradient.Length != rows * d)
            throw new ArgumentException($"gradient holds {gradient.Length} entries, {rows * d} are needed.", nameof(gradient));
        if (withGradient)
            gradient.Clear();
        int n = _tape.Length;
        // Blocks small enough for the values (and adjoints) of every instruction to stay in cache.
        int block = Math.Clamp(32_768 / n, 1, 256);
        var values = ArrayPool<double>.Shared.Rent(n * block);
        var adjoints = withGradient ? ArrayPool<double>.Shared.Rent(n * block) : null;
        try
        {
            for (int start = 0; start < rows; start += block)
            {
                int count = Math.Min(block, rows - start);
                var v = values.AsSpan(0, n * count);
                TapeEvaluator.Forward(_tape, x.Slice(start * d, count * d), d, count, v);
                v.Slice((n - 1) * count, count).CopyTo(value.Slice(start, count));
                if (withGradient)
                    TapeEvaluator.Backward(_tape, v, d, count, adjoints.AsSpan(0, n * count), gradient.Slice(start * d, count * d));
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(values);
            if (adjoints is not null)
                ArrayPool<double>.Shared.Return(adjoints);
        }
    }
}
