using System.Numerics.Tensors;

namespace FlowService.Model.Targets.Expressions;

/// <summary>
/// Runs a tape over a block of rows: values node-major (instruction k's values for the block's rows are
/// contiguous, so every operation is one span-wide kernel), then the reverse sweep that accumulates each
/// instruction's adjoint into its operands, ending at the variables' columns of the gradient.
/// </summary>
internal static class TapeEvaluator
{
    /// <summary>One instruction on scalars (constant folding, and the reference the tests compare the kernels with).</summary>
    public static double Scalar(TapeOperation operation, double a, double b, double constant, double[]? inputs) => operation switch
    {
        TapeOperation.Constant => constant,
        TapeOperation.Negate => -a,
        TapeOperation.Add => a + b,
        TapeOperation.Subtract => a - b,
        TapeOperation.Multiply => a * b,
        TapeOperation.Divide => a / b,
        TapeOperation.PowerInteger => IntegerPower(a, (int)constant),
        TapeOperation.PowerConstant => Math.Pow(a, constant),
        TapeOperation.Power => Math.Pow(a, b),
        TapeOperation.Exp => Math.Exp(a),
        TapeOperation.Log => Math.Log(a),
        TapeOperation.Log1p => Log1p(a),
        TapeOperation.Sqrt => Math.Sqrt(a),
        TapeOperation.Sin => Math.Sin(a),
        TapeOperation.Cos => Math.Cos(a),
        TapeOperation.Tanh => Math.Tanh(a),
        TapeOperation.Softplus => Softplus(a),
        TapeOperation.Sum => inputs!.Sum(),
        TapeOperation.LogSumExp => LogSumExp(inputs!),
        _ => throw new InvalidOperationException($"{operation} has no scalar form."),
    };

    public static double IntegerPower(double a, int n)
    {
        // Exact for small integer exponents (squaring), defined for negative bases, unlike exp(n log a).
        double result = 1, factor = a;
        for (int m = Math.Abs(n); m > 0; m >>= 1)
        {
            if ((m & 1) != 0)
                result *= factor;
            factor *= factor;
        }
        return n < 0 ? 1 / result : result;
    }

    /// <summary>log(1 + a) without cancellation for small a.</summary>
    public static double Log1p(double a)
    {
        double u = 1 + a;
        return u == 1 ? a : Math.Log(u) * a / (u - 1);
    }

    /// <summary>log(1 + e^a), stable for large |a|.</summary>
    public static double Softplus(double a) => Math.Max(a, 0) + Log1p(Math.Exp(-Math.Abs(a)));

    public static double Sigmoid(double a) => a >= 0 ? 1 / (1 + Math.Exp(-a)) : Math.Exp(a) / (1 + Math.Exp(a));

    private static double LogSumExp(double[] values)
    {
        double max = values.Max();
        if (double.IsNegativeInfinity(max) || double.IsPositiveInfinity(max))
            return max;
        double sum = 0;
        foreach (double v in values)
            sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }

    public static void Forward(TapeInstruction[] tape, ReadOnlySpan<float> x, int dimensions, int rows, Span<double> values)
    {
        for (int k = 0; k < tape.Length; k++)
        {
            var instruction = tape[k];
            var y = values.Slice(k * rows, rows);
            ReadOnlySpan<double> a = instruction.A >= 0 && instruction.Operation != TapeOperation.Variable ? values.Slice(instruction.A * rows, rows) : default;
            ReadOnlySpan<double> b = instruction.B >= 0 ? values.Slice(instruction.B * rows, rows) : default;
            switch (instruction.Operation)
            {
                case TapeOperation.Constant: y.Fill(instruction.Constant); break;
                case TapeOperation.Variable:
                    for (int r = 0; r < rows; r++)
                        y[r] = x[r * dimensions + instruction.A];
                    break;
                case TapeOperation.Negate: TensorPrimitives.Negate(a, y); break;
                case TapeOperation.Add: TensorPrimitives.Add(a, b, y); break;
                case TapeOperation.Subtract: TensorPrimitives.Subtract(a, b, y); break;
                case TapeOperation.Multiply: TensorPrimitives.Multiply(a, b, y); break;
                case TapeOperation.Divide: TensorPrimitives.Divide(a, b, y); break;
                case TapeOperation.PowerInteger:
                    if (instruction.Constant == 2)
                        TensorPrimitives.Multiply(a, a, y);
                    else
                        for (int r = 0; r < rows; r++)
                            y[r] = IntegerPower(a[r], (int)instruction.Constant);
                    break;
                case TapeOperation.PowerConstant:
                    for (int r = 0; r < rows; r++)
                        y[r] = Math.Pow(a[r], instruction.Constant);
                    break;
                case TapeOperation.Power:
                    for (int r = 0; r < rows; r++)
                        y[r] = Math.Pow(a[r], b[r]);
                    break;
                case TapeOperation.Exp: TensorPrimitives.Exp(a, y); break;
                case TapeOperation.Log: TensorPrimitives.Log(a, y); break;
                case TapeOperation.Log1p:
                    for (int r = 0; r < rows; r++)
                        y[r] = Log1p(a[r]);
                    break;
                case TapeOperation.Sqrt: TensorPrimitives.Sqrt(a, y); break;
                case TapeOperation.Sin: TensorPrimitives.Sin(a, y); break;
                case TapeOperation.Cos: TensorPrimitives.Cos(a, y); break;
                case TapeOperation.Tanh: TensorPrimitives.Tanh(a, y); break;
                case TapeOperation.Softplus:
                    for (int r = 0; r < rows; r++)
                        y[r] = Softplus(a[r]);
                    break;
                case TapeOperation.Sum:
                {
                    var inputs = instruction.Inputs!;
                    values.Slice(inputs[0] * rows, rows).CopyTo(y);
                    for (int i = 1; i < inputs.Length; i++)
                        TensorPrimitives.Add(y, values.Slice(inputs[i] * rows, rows), y);
                    break;
                }
                case TapeOperation.LogSumExp:
                {
                    var inputs = instruction.Inputs!;
                    for (int r = 0; r < rows; r++)
                    {
                        double max = double.NegativeInfinity;
                        foreach (int input in inputs)
                            max = Math.Max(max, values[input * rows + r]);
                        if (double.IsInfinity(max))
                        {
                            y[r] = max;
                            continue;
                        }
                        double sum = 0;
                        foreach (int input in inputs)
                            sum += Math.Exp(values[input * rows + r] - max);
                        y[r] = max + Math.Log(sum);
                    }
                    break;
                }
                default: throw new InvalidOperationException($"Unknown operation {instruction.Operation}.");
            }
        }
    }

    /// <summary>
    /// The reverse sweep after <see cref="Forward"/>: <paramref name="adjoints"/> (same shape as the values) is
    /// overwritten, and d(result)/dx of each row is <b>added</b> into <paramref name="gradient"/> (rows x D).
    /// </summary>
    public static void Backward(TapeInstruction[] tape, ReadOnlySpan<double> values, int dimensions, int rows, Span<double> adjoints, Span<double> gradient)
    {
        adjoints.Clear();
        adjoints.Slice((tape.Length - 1) * rows, rows).Fill(1);
        for (int k = tape.Length - 1; k >= 0; k--)
        {
            var instruction = tape[k];
            var op = instruction.Operation;
            if (op == TapeOperation.Constant)
                continue;
            ReadOnlySpan<double> g = adjoints.Slice(k * rows, rows);
            ReadOnlySpan<double> y = values.Slice(k * rows, rows);
            if (op == TapeOperation.Variable)
            {
                for (int r = 0; r < rows; r++)
                    gradient[r * dimensions + instruction.A] += g[r];
                continue;
            }
            if (op is TapeOperation.Sum or TapeOperation.LogSumExp)
            {
                foreach (int input in instruction.Inputs!)
                {
                    var da = adjoints.Slice(input * rows, rows);
                    if (op == TapeOperation.Sum)
                        TensorPrimitives.Add(da, g, da);
                    else
                    {
                        var v = values.Slice(input * rows, rows);
                        for (int r = 0; r < rows; r++)
                            if (g[r] != 0)
                                da[r] += g[r] * Math.Exp(v[r] - y[r]);
                    }
                }
                continue;
            }
            ReadOnlySpan<double> a = values.Slice(instruction.A * rows, rows);
            var dA = adjoints.Slice(instruction.A * rows, rows);
            ReadOnlySpan<double> b = instruction.B >= 0 ? values.Slice(instruction.B * rows, rows) : default;
            var dB = instruction.B >= 0 ? adjoints.Slice(instruction.B * rows, rows) : default;
            double c = instruction.Constant;
            for (int r = 0; r < rows; r++)
            {
                double gr = g[r];
                if (gr == 0)
                    continue;
                switch (op)
                {
                    case TapeOperation.Negate: dA[r] -= gr; break;
                    case TapeOperation.Add: dA[r] += gr; dB[r] += gr; break;
                    case TapeOperation.Subtract: dA[r] += gr; dB[r] -= gr; break;
                    case TapeOperation.Multiply: dA[r] += gr * b[r]; dB[r] += gr * a[r]; break;
                    case TapeOperation.Divide: dA[r] += gr / b[r]; dB[r] -= gr * y[r] / b[r]; break;
                    case TapeOperation.PowerInteger: dA[r] += c == 0 ? 0 : gr * c * IntegerPower(a[r], (int)c - 1); break;
                    case TapeOperation.PowerConstant: dA[r] += gr * c * Math.Pow(a[r], c - 1); break;
                    case TapeOperation.Power:
                        dA[r] += gr * b[r] * Math.Pow(a[r], b[r] - 1);
                        dB[r] += gr * y[r] * Math.Log(a[r]);
                        break;
                    case TapeOperation.Exp: dA[r] += gr * y[r]; break;
                    case TapeOperation.Log: dA[r] += gr / a[r]; break;
                    case TapeOperation.Log1p: dA[r] += gr / (1 + a[r]); break;
                    case TapeOperation.Sqrt: dA[r] += gr * 0.5 / y[r]; break;
                    case TapeOperation.Sin: dA[r] += gr * Math.Cos(a[r]); break;
                    case TapeOperation.Cos: dA[r] -= gr * Math.Sin(a[r]); break;
                    case TapeOperation.Tanh: dA[r] += gr * (1 - y[r] * y[r]); break;
                    case TapeOperation.Softplus: dA[r] += gr * Sigmoid(a[r]); break;
                    default: throw new InvalidOperationException($"Unknown operation {op}.");
                }
            }
        }
    }
}
