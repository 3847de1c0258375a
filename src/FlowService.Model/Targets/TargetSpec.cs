using System.Text.Json;
using FlowService.Model.Json;
using FlowService.Model.Targets.Expressions;

namespace FlowService.Model.Targets;

/// <summary>
/// The "target" object of a reverse-KL job: the unnormalized log-density to fit, either
/// <c>{"name": "funnel", "dimensions": 10, "parameters": {"scale": 3}}</c> (a <see cref="BuiltInTargets"/> name)
/// or <c>{"expression": "-0.5 * sum(i=0..1, x[i]^2)", "dimensions": 2}</c> (the language of
/// <see cref="CompiledExpression"/>), plus how the fit samples: <see cref="StepsPerEpoch"/> optimizer steps of
/// training.batchSize fresh samples each, and <see cref="EvaluationSamples"/> samples for the per-epoch
/// reverse-KL, effective-sample-size and log Z estimates.
/// </summary>
public sealed record TargetSpec(TargetDensity Density, int StepsPerEpoch, int EvaluationSamples)
{
    public const int DefaultStepsPerEpoch = 100;

    public const int DefaultEvaluationSamples = 4096;

    public const int MaxEvaluationSamples = 1 << 20;

    private static readonly string[] Fields = ["name", "expression", "dimensions", "parameters", "stepsPerEpoch", "evaluationSamples"];

    /// <summary>Parses and compiles the target object; errors are <see cref="TargetSpecException"/>s naming the field (and the position in an expression).</summary>
    public static TargetSpec From(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new TargetSpecException("", "'target' must be a JSON object: {\"name\": \"funnel\", \"dimensions\": 10} or {\"expression\": \"...\", \"dimensions\": 2}.");
        if (JsonText.FindUnreadable(root, "") is { } unreadable)
            throw new TargetSpecException(unreadable, JsonText.Problem(unreadable.Length == 0 ? "target" : $"target.{unreadable}"));
        foreach (var property in root.EnumerateObject())
            if (!Fields.Contains(property.Name))
                throw new TargetSpecException(property.Name, $"'{property.Name}' is not a field of a target; fields: {string.Join(", ", Fields)}.");
        int dimensions = Integer(root, "dimensions", null, 1, ExpressionLimits.MaxDimensions);
        int steps = Integer(root, "stepsPerEpoch", DefaultStepsPerEpoch, 1, 100_000);
        int evaluation = Integer(root, "evaluationSamples", DefaultEvaluationSamples, 16, MaxEvaluationSamples);
        bool named = root.TryGetProperty("name", out var name) && name.ValueKind != JsonValueKind.Null;
        bool written = root.TryGetProperty("expression", out var expression) && expression.ValueKind != JsonValueKind.Null;
        if (named == written)
            throw new TargetSpecException(named ? "expression" : "name", "A target has either a built-in 'name' or an 'expression', " + (named ? "not both." : "and has neither."));
        TargetDensity density;
        if (named)
        {
            if (name.ValueKind != JsonValueKind.String)
                throw new TargetSpecException("name", $"'name' must be a string: one of {string.Join(", ", BuiltInTargets.Names)}.");
            density = BuiltInTargets.Create(name.GetString()!, dimensions, root.TryGetProperty("parameters", out var parameters) ? parameters : null);
        }
        else
        {
            if (root.TryGetProperty("parameters", out var stray) && stray.ValueKind != JsonValueKind.Null)
                throw new TargetSpecException("parameters", "'parameters' belong to a built-in target; write constants into the expression instead.");
            if (expression.ValueKind != JsonValueKind.String)
                throw new TargetSpecException("expression", "'expression' must be a string such as \"-0.5 * (x0^2 + x1^2)\".");
            try
            {
                var compiled = CompiledExpression.Compile(expression.GetString()!, dimensions);
                if (compiled.UsedDimensions < dimensions)
                    throw new TargetSpecException("expression",
                        $"The expression reads {compiled.UsedDimensions} of the {dimensions} dimensions; a density must depend on every x0..x{dimensions - 1} to be normalizable.");
                density = new TargetDensity("expression", compiled, null);
            }
            catch (ExpressionException e)
            {
                throw new TargetSpecException("expression", e.Message, e.Position);
            }
        }
        return new TargetSpec(density, steps, evaluation);
    }

    private static int Integer(JsonElement root, string field, int? defaultValue, int min, int max)
    {
        if (!root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
            return defaultValue ?? throw new TargetSpecException(field, $"'{field}' is required (an integer from {min} to {max}).");
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int result))
            throw new TargetSpecException(field, $"'{field}' must be an integer.");
        if (result < min || result > max)
            throw new TargetSpecException(field, $"'{field}' must be between {min} and {max}, not {result}.");
        return result;
    }
}
