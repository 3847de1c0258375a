using System.Globalization;

namespace FlowService.Api.Scoring;

/// <summary>
/// Turns JSON row arrays into the float32 row-major matrices the engine takes, checking shape, finiteness
/// and float32 range, and naming the first bad element as a JSON path (e.g. <c>rows[3][1]</c>).
/// </summary>
public static class InferenceInput
{
    public sealed record Error(string Field, string Message);

    public static Error? TryConvert(double[][]? rows, int columns, string field, int maxRows, IReadOnlyList<string> names, out float[] values, bool required = true)
    {
        values = [];
        if (rows is null || rows.Length == 0)
            return required || rows is not null ? new Error(field, $"'{field}' must hold at least one row of {columns} numbers ({string.Join(", ", names)}).") : null;
        if (rows.Length > maxRows)
            return new Error(field, $"'{field}' has {rows.Length} rows; at most {maxRows} are allowed per request (FlowService:Limits:MaxScoreRows).");
        values = new float[(long)rows.Length * columns];
        for (int r = 0; r < rows.Length; r++)
        {
            var row = rows[r];
            if (row is null || row.Length != columns)
                return new Error($"{field}[{r}]", $"{field}[{r}] has {row?.Length ?? 0} values; the model expects {columns} ({string.Join(", ", names)}).");
            for (int c = 0; c < columns; c++)
            {
                double v = row[c];
                float f = (float)v;
                if (!double.IsFinite(v) || !float.IsFinite(f))
                    return new Error($"{field}[{r}][{c}]", $"{field}[{r}][{c}] ({names[c]}) = {v.ToString(CultureInfo.InvariantCulture)} is not a finite float32 number.");
                values[(long)r * columns + c] = f;
            }
        }
        return null;
    }

    /// <summary>Reshapes a row-major float matrix into rows for a JSON response.</summary>
    public static float[][] ToRows(float[] values, int rows, int columns)
    {
        var result = new float[rows][];
        for (int r = 0; r < rows; r++)
            result[r] = values.AsSpan(r * columns, columns).ToArray();
        return result;
    }
}
