using System.Globalization;
using System.Text;
using System.Text.Json;
using FlowService.Api.Endpoints;
using FlowService.Training.Datasets;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FlowService.Api.Payloads;

/// <summary>
/// Reads /score, /encode and /decode JSON bodies with <see cref="Utf8JsonReader"/>, numbers straight into
/// float32 row-major buffers: no object graph, no double[][] per row. Two passes: the first checks the syntax of
/// the whole body, reads the small fields (model, version, alias, anomalyQuantile) so the model, and with it the
/// expected width and column names, is known, and notes where each matrix field's value lies
/// (<see cref="JsonMatrixRanges"/>); the second parses one matrix from those bytes alone. (Tokenizing is most of
/// the reading: each further pass over a 1,000-row body cost about 8% of the request's CPU.) Property names match
/// case-insensitively (as the web JSON defaults do); unknown properties are ignored. Every error names its place:
/// <c>$</c> with line and byte for syntax, <c>rows[3][1]</c> for a value. For an image model a row may also be the
/// image as nested arrays, [H][W] (one channel) or [C][H][W], read in the same channels-first order as a flat row
/// (an error then names <c>rows[3][0][5][2]</c>).
/// </summary>
public static class JsonInferenceReader
{
    /// <summary>Pass one: syntax of the whole body, and the request's target fields.</summary>
    public static ProblemHttpResult? ReadTarget(ReadOnlySpan<byte> json, out InferenceTarget target, out JsonMatrixRanges matrices)
    {
        target = new InferenceTarget(null, null, null, null);
        matrices = default;
        if (Utf8Text.FirstInvalidByte(json) is var invalid and >= 0)
            return Problems.BadRequest($"The body is not valid UTF-8: byte {invalid} (0-based) starts an invalid sequence.", field: "$");
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            if (!reader.Read())
                return Problems.BadRequest("The body is empty; send a JSON object.", field: "$");
            if (reader.TokenType != JsonTokenType.StartObject)
                return Problems.BadRequest($"The body must be a JSON object; it starts with a {Describe(reader.TokenType)}.", field: "$");
            string? model = null, alias = null;
            int? version = null;
            double? quantile = null;
            JsonMatrixRanges.Value? rows = null, z = null, context = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isModel = Is(ref reader, "model"u8), isAlias = !isModel && Is(ref reader, "alias"u8);
                bool isVersion = !isModel && !isAlias && Is(ref reader, "version"u8);
                bool isQuantile = !isModel && !isAlias && !isVersion && Is(ref reader, "anomalyQuantile"u8);
                int matrix = isModel || isAlias || isVersion || isQuantile ? -1
                    : Is(ref reader, "rows"u8) ? 0 : Is(ref reader, "z"u8) ? 1 : Is(ref reader, "context"u8) ? 2 : -1;
                reader.Read();
                if (isModel || isAlias)
                {
                    if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
                        return Problems.BadRequest($"'{(isModel ? "model" : "alias")}' must be a string; got a {Describe(reader.TokenType)}.", field: isModel ? "model" : "alias");
                    string? text = reader.TokenType == JsonTokenType.Null ? null : reader.GetString();
                    if (isModel) model = text;
                    else alias = text;
                }
                else if (isVersion)
                {
                    if (reader.TokenType == JsonTokenType.Null)
                        version = null;
                    else if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int v))
                        version = v;
                    else
                        return Problems.BadRequest("'version' must be an integer version number.", field: "version");
                }
                else if (isQuantile)
                {
                    if (reader.TokenType == JsonTokenType.Null)
                        quantile = null;
                    else if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out double q))
                        quantile = q;
                    else
                        return Problems.BadRequest("'anomalyQuantile' must be a number in (0, 1), e.g. 0.01.", field: "anomalyQuantile");
                }
                else if (matrix < 0)
                    reader.Skip();
                else
                {
                    // Skipped by hand, counting the numbers: pass two's buffer is then the size of what was sent, where
                    // an estimate from the body's length would be several times that (and on the large-object heap).
                    int start = checked((int)reader.TokenStartIndex), numbers = 0;
                    if (reader.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject)
                    {
                        int depth = reader.CurrentDepth;
                        while (reader.Read() && reader.CurrentDepth > depth)
                            if (reader.TokenType == JsonTokenType.Number)
                                numbers++;
                    }
                    var value = new JsonMatrixRanges.Value(start..checked((int)reader.BytesConsumed), numbers);
                    if (matrix == 0) rows = value;
                    else if (matrix == 1) z = value;
                    else context = value;
                }
            }
            // Reading on to the end checks that nothing but whitespace follows the object.
            while (reader.Read()) { }
            target = new InferenceTarget(model, version, alias, quantile);
            matrices = new JsonMatrixRanges(rows, z, context);
            return null;
        }
        catch (JsonException e)
        {
            return Problems.BadRequest($"The body is not valid JSON: {e.Message}", field: "$");
        }
        catch (InvalidOperationException e)
        {
            // A lone surrogate escape (\ud800) is valid JSON syntax but no text; it fails only when decoded (found by fuzzing).
            return Problems.BadRequest($"The body holds a string that is not valid text: {e.Message}", field: "$");
        }
    }

    /// <summary>
    /// Pass two: the matrix field <paramref name="field"/>, whose value pass one found at <paramref name="value"/> of the
    /// (already syntax-checked) body, as a rows x names.Count float32 matrix. An absent (null range) or null field gives
    /// zero rows and <paramref name="present"/> false; the caller decides whether that is allowed.
    /// With <paramref name="image"/>, rows may also be nested [H][W] or [C][H][W] arrays of that image shape.
    /// </summary>
    public static ProblemHttpResult? ReadMatrix(ReadOnlySpan<byte> json, JsonMatrixRanges.Value? value, string field, IReadOnlyList<string> names, int maxRows,
        out float[] values, out int rows, out bool present, ImageModelShape? image = null)
    {
        values = [];
        rows = 0;
        present = false;
        if (value is not { } found)
            return null;
        var reader = new Utf8JsonReader(json[found.Bytes], new JsonReaderOptions { MaxDepth = 64 });
        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
            return null;
        present = true;
        return ParseRows(ref reader, field, names, maxRows, found.Numbers, image, out values, out rows);
    }

    /// <summary>True when the value at <paramref name="value"/> is an array with at least one element (e.g. a context sent to an unconditional model).</summary>
    public static bool HasElements(ReadOnlySpan<byte> json, JsonMatrixRanges.Value? value)
    {
        if (value is not { } found)
            return false;
        var reader = new Utf8JsonReader(json[found.Bytes], new JsonReaderOptions { MaxDepth = 64 });
        return reader.Read() && reader.TokenType == JsonTokenType.StartArray && reader.Read() && reader.TokenType != JsonTokenType.EndArray;
    }

    static ProblemHttpResult? ParseRows(ref Utf8JsonReader reader, string field, IReadOnlyList<string> names, int maxRows, int numbers,
        ImageModelShape? image, out float[] values, out int rows)
    {
        int width = names.Count;
        rows = 0;
        values = [];
        if (reader.TokenType != JsonTokenType.StartArray)
            return Problems.BadRequest($"'{field}' must be an array of rows, each an array of {width} numbers ({string.Join(", ", names)}); got a {Describe(reader.TokenType)}.", field: field);
        // The numbers pass one counted fill the buffer exactly when every row has the model's width (a body that
        // does not is refused below); more than the row limit allows is never allocated up front.
        long capacity = Math.Min((long)maxRows * width, Math.Max(width, numbers));
        var buffer = new float[Math.Min(capacity, 1 << 20)];
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (rows == maxRows)
                return Problems.BadRequest($"'{field}' has more than {maxRows} rows; at most {maxRows} are allowed per request (FlowService:Limits:MaxScoreRows).", field: field);
            if (reader.TokenType != JsonTokenType.StartArray)
                return Problems.BadRequest($"{field}[{rows}] must be an array of {width} numbers ({string.Join(", ", names)}); got a {Describe(reader.TokenType)}.", field: $"{field}[{rows}]");
            if (buffer.Length < (rows + 1) * width)
                Array.Resize(ref buffer, Math.Max((rows + 1) * width, buffer.Length * 2));
            int c = 0;
            long at = (long)rows * width;
            if (image is not null && NestingDepth(reader) is > 1 and var depth)
            {
                int[] dimensions = image.NestedDimensions(depth);
                if (dimensions.Length == 0)
                    return Problems.BadRequest($"{field}[{rows}] is nested {depth} deep; an image row is {width} numbers, " +
                        (image.Channels == 1 ? $"[{image.Height}][{image.Width}] or " : "") + $"[{image.Channels}][{image.Height}][{image.Width}] nested arrays.", field: $"{field}[{rows}]");
                if (ParseNested(ref reader, dimensions, string.Concat(dimensions.Select(size => $"[{size}]")), $"{field}[{rows}]", buffer, at) is { } nestedProblem)
                    return nestedProblem;
                rows++;
                continue;
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.Number)
                    return Problems.BadRequest($"{field}[{rows}][{c}]{NameOf(names, c)} must be a number; got a {Describe(reader.TokenType)}" +
                        (reader.TokenType == JsonTokenType.String ? $" (\"{Truncate(Raw(ref reader))}\"). NaN and infinities are not accepted." : "."), field: $"{field}[{rows}][{c}]");
                if (c < width)
                {
                    if (!TryGetFiniteFloat32(ref reader, out float f))
                        return Problems.BadRequest($"{field}[{rows}][{c}]{NameOf(names, c)} = {Raw(ref reader)} is not a finite float32 number.", field: $"{field}[{rows}][{c}]");
                    buffer[at + c] = f;
                }
                c++;
            }
            if (c != width)
                return Problems.BadRequest($"{field}[{rows}] has {c} values; the model expects {width} ({string.Join(", ", names)}).", field: $"{field}[{rows}]");
            rows++;
        }
        if (rows == 0)
            return Problems.BadRequest($"'{field}' must hold at least one row of {width} numbers ({string.Join(", ", names)}).", field: field);
        values = buffer;
        return null;
    }

    /// <summary>The current number as a float32, false when it is not finite in double or overflows float32.</summary>
    static bool TryGetFiniteFloat32(ref Utf8JsonReader reader, out float value)
    {
        bool parsed = reader.TryGetDouble(out double v);
        value = (float)v;
        return parsed && double.IsFinite(v) && float.IsFinite(value);
    }

    /// <summary>How many arrays open in a row, the row's own included (1 for a flat row), read on a copy of the reader.</summary>
    static int NestingDepth(Utf8JsonReader probe)
    {
        int depth = 1;
        while (probe.Read() && probe.TokenType == JsonTokenType.StartArray)
            depth++;
        return depth;
    }

    /// <summary>
    /// From the StartArray of a nested block of shape <paramref name="dimensions"/> (part of the image's <paramref name="expected"/>
    /// nesting, as text): its numbers, row-major, into buffer[at..]; a problem naming the first place where the block is not of that shape or holds no finite float32.
    /// </summary>
    static ProblemHttpResult? ParseNested(ref Utf8JsonReader reader, ReadOnlySpan<int> dimensions, string expected, string path, float[] buffer, long at)
    {
        int count = dimensions[0], stride = 1;
        foreach (int size in dimensions[1..])
            stride *= size;
        for (int i = 0; i < count; i++)
        {
            if (!reader.Read() || reader.TokenType == JsonTokenType.EndArray)
                return Problems.BadRequest($"{path} has {i} entries; this model's images need {expected}.", field: path);
            string place = $"{path}[{i}]";
            if (dimensions.Length == 1)
            {
                if (reader.TokenType != JsonTokenType.Number)
                    return Problems.BadRequest($"{place} must be a number; got a {Describe(reader.TokenType)}.", field: place);
                if (!TryGetFiniteFloat32(ref reader, out float f))
                    return Problems.BadRequest($"{place} = {Raw(ref reader)} is not a finite float32 number.", field: place);
                buffer[at + i] = f;
                continue;
            }
            if (reader.TokenType != JsonTokenType.StartArray)
                return Problems.BadRequest($"{place} must be an array {string.Concat(dimensions[1..].ToArray().Select(size => $"[{size}]"))}; got a {Describe(reader.TokenType)}.", field: place);
            if (ParseNested(ref reader, dimensions[1..], expected, place, buffer, at + (long)i * stride) is { } problem)
                return problem;
        }
        if (!reader.Read() || reader.TokenType != JsonTokenType.EndArray)
            return Problems.BadRequest($"{path} has more than {count} entries; this model's images need {expected}.", field: path);
        return null;
    }

    static bool Is(ref Utf8JsonReader reader, scoped ReadOnlySpan<byte> name)
    {
        if (!reader.ValueIsEscaped)
            return Ascii.EqualsIgnoreCase(reader.ValueSpan, name);
        try
        {
            return string.Equals(reader.GetString(), Encoding.UTF8.GetString(name), StringComparison.OrdinalIgnoreCase);
        }
        catch (InvalidOperationException)
        {
            // An escape that is no text (a lone surrogate) names no field of ours.
            return false;
        }
    }

    static string NameOf(IReadOnlyList<string> names, int column) => column < names.Count ? $" ({names[column]})" : "";

    static string Raw(ref Utf8JsonReader reader) => Encoding.UTF8.GetString(reader.ValueSpan);

    static string Truncate(string? text) => text is null ? "" : text.Length <= 40 ? text : text[..40] + "...";

    static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString().ToLower(CultureInfo.InvariantCulture),
    };
}
