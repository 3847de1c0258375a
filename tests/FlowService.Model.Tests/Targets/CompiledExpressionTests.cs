using FlowService.Model.Targets.Expressions;

namespace FlowService.Model.Tests.Targets;

/// <summary>The log-density language: values against C# references, gradients against central differences, errors with positions.</summary>
public sealed class CompiledExpressionTests
{
    private const int Rows = 37, Dimensions = 3;

    public static TheoryData<string, Func<double[], double>> Cases => new()
    {
        { "x0 + 2*x1 - x2/3", x => x[0] + 2 * x[1] - x[2] / 3 },
        { "-x0^2 + x1^3 - 2^-1*x2^-2", x => -x[0] * x[0] + x[1] * x[1] * x[1] - 0.5 / (x[2] * x[2]) },
        { "exp(x0) * log(1 + x1^2) + log1p(x2^2)", x => Math.Exp(x[0]) * Math.Log(1 + x[1] * x[1]) + Math.Log(1 + x[2] * x[2]) },
        { "sqrt(x0^2 + x1^2 + 1) / (2 + sin(x2)) - cos(x0*x1)", x => Math.Sqrt(x[0] * x[0] + x[1] * x[1] + 1) / (2 + Math.Sin(x[2])) - Math.Cos(x[0] * x[1]) },
        { "tanh(x0 - x1) * softplus(3*x2) + softplus(-40*x0^2)", x => Math.Tanh(x[0] - x[1]) * Math.Log(1 + Math.Exp(3 * x[2])) + Math.Log(1 + Math.Exp(-40 * x[0] * x[0])) },
        { "logsumexp(x0, 2*x1, -x2, 5)", x => Math.Log(Math.Exp(x[0]) + Math.Exp(2 * x[1]) + Math.Exp(-x[2]) + Math.Exp(5)) },
        { "sum(i=0..2, (i+1) * x[i]^2) - sum(i=0..1, 100*(x[i+1] - x[i]^2)^2 + (1 - x[i])^2)",
            x => x[0] * x[0] + 2 * x[1] * x[1] + 3 * x[2] * x[2] - 100 * Math.Pow(x[1] - x[0] * x[0], 2) - Math.Pow(1 - x[0], 2) - 100 * Math.Pow(x[2] - x[1] * x[1], 2) - Math.Pow(1 - x[1], 2) },
        { "logsumexp(k=0..2, -0.5*sum(j=0..2, (x[j] - k)^2))", x => Math.Log(Enumerable.Range(0, 3).Sum(k => Math.Exp(-0.5 * x.Sum(v => (v - k) * (v - k))))) },
        { "(x0^2 + 1)^(x1/4 + 0.5) + (x2^2 + 2)^1.5 - pi*e", x => Math.Pow(x[0] * x[0] + 1, x[1] / 4 + 0.5) + Math.Pow(x[2] * x[2] + 2, 1.5) - Math.PI * Math.E },
        { "sum(x0, x1) * 1e-1 + .5*x2 + 2.5E+0", x => (x[0] + x[1]) * 0.1 + 0.5 * x[2] + 2.5 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Values_match_the_reference_and_gradients_match_central_differences(string source, Func<double[], double> reference)
    {
        var expression = CompiledExpression.Compile(source, Dimensions);
        var x = Points(seed: 1);
        var value = new double[Rows];
        var gradient = new double[Rows * Dimensions];
        expression.Evaluate(x, Rows, value, gradient);
        // h = 2^-10 moves a float of magnitude < 2^13 exactly, so the differences see only the expression.
        const float h = 1f / 1024;
        var shifted = (float[])x.Clone();
        var plus = new double[Rows];
        var minus = new double[Rows];
        for (int r = 0; r < Rows; r++)
        {
            var row = x.AsSpan(r * Dimensions, Dimensions).ToArray().Select(v => (double)v).ToArray();
            double expected = reference(row);
            Assert.True(Math.Abs(value[r] - expected) <= 1e-9 * (1 + Math.Abs(expected)), $"{source} row {r}: {value[r]} vs {expected}");
        }
        for (int j = 0; j < Dimensions; j++)
        {
            for (int r = 0; r < Rows; r++)
                shifted[r * Dimensions + j] = x[r * Dimensions + j] + h;
            expression.Evaluate(shifted, Rows, plus, Span<double>.Empty);
            for (int r = 0; r < Rows; r++)
                shifted[r * Dimensions + j] = x[r * Dimensions + j] - h;
            expression.Evaluate(shifted, Rows, minus, Span<double>.Empty);
            for (int r = 0; r < Rows; r++)
            {
                shifted[r * Dimensions + j] = x[r * Dimensions + j];
                double numeric = (plus[r] - minus[r]) / (2 * h);
                double exact = gradient[r * Dimensions + j];
                Assert.True(Math.Abs(numeric - exact) <= 1e-4 * (1 + Math.Abs(exact)), $"{source} d/dx{j} row {r}: {exact} vs {numeric}");
            }
        }
    }

    [Fact]
    public void Gradients_are_overwritten_and_blocks_of_rows_agree_with_single_rows()
    {
        var expression = CompiledExpression.Compile("logsumexp(k=0..40, -0.5*sum(j=0..2, (x[j] - k/10)^2))", Dimensions);
        Assert.True(expression.Operations > 200);
        int rows = 1000;
        var x = Points(seed: 2, rows);
        var value = new double[rows];
        var gradient = Enumerable.Repeat(double.NaN, rows * Dimensions).ToArray();
        expression.Evaluate(x, rows, value, gradient);
        var one = new double[1];
        var oneGradient = new double[Dimensions];
        foreach (int r in new[] { 0, 1, 255, 256, 999 })
        {
            expression.Evaluate(x.AsSpan(r * Dimensions, Dimensions), 1, one, oneGradient);
            Assert.Equal(one[0], value[r]);
            Assert.Equal(oneGradient, gradient.AsSpan(r * Dimensions, Dimensions).ToArray());
        }
    }

    [Fact]
    public void Constants_fold_and_dead_code_is_dropped()
    {
        var expression = CompiledExpression.Compile("x0 * (2 * 3 + log(e)) + sum(i=0..99, i)", 1);
        Assert.Equal(5, expression.Operations); // x0, 7, x0*7, 4950, +
        var value = new double[1];
        expression.Evaluate([2f], 1, value, Span<double>.Empty);
        Assert.Equal(14 + 4950, value[0], 9);
    }

    [Theory]
    [InlineData("x0 + * x1", 5, "Unexpected '*'")]
    [InlineData("exp(x0", 6, "ends at position 6")]
    [InlineData("x0 $ x1", 3, "Unexpected character '$'")]
    [InlineData("x0 + x5", 5, "x5 at position 5 is out of range")]
    [InlineData("foo(x0) + 1", 0, "Unknown function 'foo'")]
    [InlineData("x0 + y", 5, "Unknown name 'y'")]
    [InlineData("sum(i=0..2, x[i+1])", 12, "x3 at position 12 is out of range")]
    [InlineData("sum(i=0..2.5, x[i])", 9, "must be an integer")]
    [InlineData("x[x0]", 2, "must be a constant integer")]
    [InlineData("log(x0, x1)", 0, "takes one argument")]
    [InlineData("sum(i=3..1, x[i])", 6, "is empty")]
    [InlineData("sum(i=0..20000, x0)", 6, "more than 10000 terms")]
    [InlineData("x0 x1", 3, "Unexpected 'x1'")]
    [InlineData("log(-1) + x0", 0, "evaluates to NaN")]
    [InlineData("", 0, "empty")]
    [InlineData("x0 + 1e999", 5, "not a finite number")]
    public void Errors_name_the_position_of_the_bad_token(string source, int position, string message)
    {
        var error = Assert.Throws<ExpressionException>(() => CompiledExpression.Compile(source, 3));
        Assert.Equal(position, error.Position);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Size_and_nesting_are_bounded()
    {
        var deep = Assert.Throws<ExpressionException>(() => CompiledExpression.Compile(new string('(', 100) + "x0" + new string(')', 100), 1));
        Assert.Contains("nests deeper", deep.Message, StringComparison.Ordinal);
        var negations = Assert.Throws<ExpressionException>(() => CompiledExpression.Compile(new string('-', 100) + "x0", 1));
        Assert.Contains("nests deeper", negations.Message, StringComparison.Ordinal);
        var big = Assert.Throws<ExpressionException>(() => CompiledExpression.Compile("sum(i=0..9999, sum(j=0..9, x0*i*j))", 1));
        Assert.Contains("more than 50000 operations", big.Message, StringComparison.Ordinal);
        var longText = Assert.Throws<ExpressionException>(() => CompiledExpression.Compile(string.Join("+", Enumerable.Repeat("x0", 6000)), 1));
        Assert.Contains("at most 16384", longText.Message, StringComparison.Ordinal);
        // A long flat sum compiles by a loop, not a recursion as deep as the sum.
        Assert.True(CompiledExpression.Compile(string.Join("+", Enumerable.Repeat("x0", 5000)), 1).Operations >= 5000);
    }

    private static float[] Points(int seed, int rows = Rows)
    {
        var random = new Random(seed);
        var x = new float[rows * Dimensions];
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)(random.NextDouble() * 2.4 - 1.2) + (i % Dimensions == 2 ? 1.5f : 0f);
        return x;
    }
}
