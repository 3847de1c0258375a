using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlowService.Training.Storage;

/// <summary>The JSON conventions of values stored in database columns: camelCase, enums as strings.</summary>
public static class StoreJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new InvalidDataException($"Stored JSON is null where a {typeof(T).Name} was expected.");

    public static string Timestamp(DateTimeOffset value) => value.UtcDateTime.ToString("O");

    public static DateTimeOffset ParseTimestamp(string value) =>
        DateTimeOffset.Parse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);
}
