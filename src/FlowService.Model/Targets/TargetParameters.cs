using System.Text.Json;

namespace FlowService.Model.Targets;

/// <summary>Typed, range-checked reads of a built-in target's "parameters" object; fields nobody read are rejected.</summary>
internal sealed class TargetParameters
{
    private readonly JsonElement? _root;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public TargetParameters(JsonElement? root)
    {
        if (root is { } value && value.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            throw new TargetSpecException("parameters", "'parameters' must be a JSON object.");
        _root = root is { ValueKind: JsonValueKind.Object } ? root : null;
    }

    public bool Has(string field) => _root is { } root && root.TryGetProperty(field, out _);

    public double Number(string field, double defaultValue, double min, double max)
    {
        if (!TryGet(field, out var value))
            return defaultValue;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double result) || !double.IsFinite(result))
            throw Error(field, "must be a number");
        if (result < min || result > max)
            throw Error(field, $"must be between {min} and {max}, not {result}");
        return result;
    }

    public int Integer(string field, int defaultValue, int min, int max)
    {
        if (!TryGet(field, out var value))
            return defaultValue;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int result))
            throw Error(field, "must be an integer");
        if (result < min || result > max)
            throw Error(field, $"must be between {min} and {max}, not {result}");
        return result;
    }

    public double[] Vector(string field, int length)
    {
        TryGet(field, out var value);
        var result = Numbers(value, field);
        if (result.Length != length)
            throw Error(field, $"must hold {length} numbers, not {result.Length}");
        return result;
    }

    public double[][] Matrix(string field, int columns)
    {
        TryGet(field, out var value);
        if (value.ValueKind != JsonValueKind.Array)
            throw Error(field, "must be an array of arrays of numbers");
        var rows = new List<double[]>();
        int i = 0;
        foreach (var row in value.EnumerateArray())
        {
            var numbers = Numbers(row, $"{field}[{i}]");
            if (numbers.Length != columns)
                throw new TargetSpecException($"parameters.{field}[{i}]", $"'parameters.{field}[{i}]' must hold {columns} numbers (one per dimension), not {numbers.Length}.");
            rows.Add(numbers);
            i++;
        }
        return rows.ToArray();
    }

    public void RejectUnread()
    {
        if (_root is not { } root)
            return;
        foreach (var property in root.EnumerateObject())
            if (!_read.Contains(property.Name))
                throw new TargetSpecException($"parameters.{property.Name}", $"'parameters.{property.Name}' is not a parameter of this target.");
    }

    private bool TryGet(string field, out JsonElement value)
    {
        _read.Add(field);
        value = default;
        return _root is { } root && root.TryGetProperty(field, out value) && value.ValueKind != JsonValueKind.Null;
    }

    private static double[] Numbers(JsonElement value, string field)
    {
        if (value.ValueKind != JsonValueKind.Array)
            throw Error(field, "must be an array of numbers");
        var result = new List<double>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetDouble(out double number) || !double.IsFinite(number) || Math.Abs(number) > 1e6)
                throw Error(field, "must hold finite numbers of magnitude at most 1e6");
            result.Add(number);
        }
        return result.ToArray();
    }

    private static TargetSpecException Error(string field, string message) => new($"parameters.{field}", $"'parameters.{field}' {message}.");
}
