using System.Text.Json;

namespace FlowService.Model.Json;

/// <summary>
/// Whether every string and property name of a JSON value can be read as text. System.Text.Json parses a document (or
/// binds a <see cref="JsonElement"/> in a request) without checking that the bytes inside strings are valid UTF-8 or that
/// a \uD800 escape is paired; it throws <see cref="InvalidOperationException"/> only when such a string is read. Specs
/// from requests are checked once here, so their readers can answer a field with a 4xx problem instead of a 500.
/// </summary>
public static class JsonText
{
    /// <summary>The path (below <paramref name="path"/>) of the first string or property name that is not valid text; null when all are.</summary>
    public static string? FindUnreadable(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return CanRead(element) ? null : path;
            case JsonValueKind.Array:
            {
                int index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FindUnreadable(item, $"{path}[{index}]") is { } bad)
                        return bad;
                    index++;
                }
                return null;
            }
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return path;
                    }
                    if (FindUnreadable(property.Value, path.Length == 0 ? name : $"{path}.{name}") is { } bad)
                        return bad;
                }
                return null;
            default:
                return null;
        }
    }

    /// <summary>The message for a value <see cref="FindUnreadable"/> found.</summary>
    public static string Problem(string path) =>
        $"'{path}' holds a string or field name that is not valid UTF-8 text (or an unpaired \\uD800-\\uDFFF escape).";

    static bool CanRead(JsonElement text)
    {
        try
        {
            text.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
