using System.Text.Json;
using FlowService.Model.Json;

namespace FlowService.Model.Flows;

/// <summary>
/// A flow spec: the JSON object the service stores with every model, e.g.
/// {"type":"maf","layers":5,"hidden":[64,64]}. Recipes read their fields through the typed
/// getters, which check ranges and name the field in every error; <see cref="RejectUnreadFields"/>
/// then rejects whatever no recipe asked for, so a misspelt field is an error, not a silent default.
/// </summary>
public sealed class FlowSpec
{
    private readonly JsonElement _root;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    // "" for the spec itself, "base." for its "base" section: errors name fields by their full path.
    private readonly string _path;

    private FlowSpec(JsonElement root, string type, string path)
    {
        _root = root;
        Type = type;
        _path = path;
        if (path.Length == 0)
            _read.Add("type");
    }

    /// <summary>The recipe name ("maf", "nsf", ...), lower case.</summary>
    public string Type { get; }

    /// <summary>The spec as compact JSON (what a checkpoint stores).</summary>
    public string Json => _root.GetRawText();

    public static FlowSpec Parse(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new FlowSpecException("flow", $"The flow spec is not valid JSON: {e.Message}");
        }
        using (document)
            return From(document.RootElement);
    }

    public static FlowSpec From(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new FlowSpecException("flow", "A flow spec must be a JSON object.");
        if (JsonText.FindUnreadable(root, "") is { } unreadable)
            throw new FlowSpecException(unreadable.Length == 0 ? "flow" : unreadable, JsonText.Problem(unreadable.Length == 0 ? "flow" : unreadable));
        if (!root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(type.GetString()))
            throw new FlowSpecException("type", "A flow spec needs a string field 'type' (e.g. \"maf\", \"nsf\").");
        return new FlowSpec(root.Clone(), type.GetString()!.Trim().ToLowerInvariant(), "");
    }

    public int GetInt(string field, int defaultValue, int min, int max)
    {
        if (!TryGet(field, out var value))
            return defaultValue;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int result))
            throw new FlowSpecException(_path + field, $"'{_path}{field}' must be an integer.");
        if (result < min || result > max)
            throw new FlowSpecException(_path + field, $"'{_path}{field}' must be between {min} and {max}, not {result}.");
        return result;
    }

    public float GetFloat(string field, float defaultValue, float minExclusive, float max)
    {
        if (!TryGet(field, out var value))
            return defaultValue;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double result) || !double.IsFinite(result))
            throw new FlowSpecException(_path + field, $"'{_path}{field}' must be a number.");
        if (!(result > minExclusive) || result > max)
            throw new FlowSpecException(_path + field, $"'{_path}{field}' must be greater than {minExclusive} and at most {max}, not {result}.");
        return (float)result;
    }

    public bool GetBool(string field, bool defaultValue)
    {
        if (!TryGet(field, out var value))
            return defaultValue;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new FlowSpecException(_path + field, $"'{_path}{field}' must be true or false."),
        };
    }

    /// <summary>One of <paramref name="allowed"/> (case-insensitive), returned as written there.</summary>
    public string GetChoice(string field, string defaultValue, params string[] allowed)
    {
        if (!TryGet(field, out var value))
            return defaultValue;
        string? text = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        var match = allowed.FirstOrDefault(a => string.Equals(a, text, StringComparison.OrdinalIgnoreCase));
        return match ?? throw new FlowSpecException(_path + field, $"'{_path}{field}' must be one of {string.Join(", ", allowed.Select(a => $"\"{a}\""))}.");
    }

    public int[] GetIntArray(string field, int[] defaultValue, int minItems, int maxItems, int min, int max)
    {
        if (!TryGet(field, out var value))
            return defaultValue;
        if (value.ValueKind != JsonValueKind.Array)
            throw new FlowSpecException(_path + field, $"'{_path}{field}' must be an array of integers.");
        var items = new List<int>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int v) || v < min || v > max)
                throw new FlowSpecException(_path + field, $"Every entry of '{_path}{field}' must be an integer between {min} and {max}.");
            items.Add(v);
        }
        if (items.Count < minItems || items.Count > maxItems)
            throw new FlowSpecException(_path + field, $"'{_path}{field}' must have {minItems} to {maxItems} entries, not {items.Count}.");
        return items.ToArray();
    }

    /// <summary>An array of <paramref name="minItems"/> to <paramref name="maxItems"/> JSON objects (nested flow specs), or null when absent.</summary>
    public JsonElement[]? GetSpecArray(string field, int minItems, int maxItems)
    {
        if (!TryGet(field, out var value))
            return null;
        if (value.ValueKind != JsonValueKind.Array)
            throw new FlowSpecException(field, $"'{field}' must be an array of flow specs.");
        var items = value.EnumerateArray().Select(e => e.Clone()).ToArray();
        if (items.Length < minItems || items.Length > maxItems)
            throw new FlowSpecException(field, $"'{field}' must have {minItems} to {maxItems} entries, not {items.Length}.");
        for (int i = 0; i < items.Length; i++)
            if (items[i].ValueKind != JsonValueKind.Object)
                throw new FlowSpecException($"{field}[{i}]", $"Every entry of '{field}' must be a flow spec object such as {{\"type\": \"maf\"}}.");
        return items;
    }

    /// <summary>
    /// The nested object <paramref name="field"/> (e.g. "base") as a spec of its own, or null when absent. Its
    /// getters name fields by their full path ("base.components"); its owner calls its <see cref="RejectUnreadFields"/>.
    /// </summary>
    public FlowSpec? GetSection(string field)
    {
        if (!TryGet(field, out var value))
            return null;
        if (value.ValueKind != JsonValueKind.Object)
            throw new FlowSpecException(_path + field, $"'{_path}{field}' must be a JSON object.");
        return new FlowSpec(value, Type, $"{_path}{field}.");
    }

    /// <summary>True when the spec has <paramref name="field"/> (not null); does not count as reading it.</summary>
    public bool Contains(string field) => _root.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>Throws for the first field that no getter asked for (unknown to the recipe).</summary>
    public void RejectUnreadFields()
    {
        foreach (var property in _root.EnumerateObject())
            if (!_read.Contains(property.Name))
                throw new FlowSpecException(_path + property.Name,
                    _path.Length == 0 ? $"'{property.Name}' is not a field of a \"{Type}\" flow." : $"'{_path}{property.Name}' is not a field of '{_path.TrimEnd('.')}'.");
    }

    private bool TryGet(string field, out JsonElement value)
    {
        _read.Add(field);
        return _root.TryGetProperty(field, out value) && value.ValueKind != JsonValueKind.Null;
    }
}
