using System.Text.Json;

namespace FlowService.Training.Datasets;

/// <summary>
/// Parses <c>{"columns": ["a", "b"], "rows": [[1, 2], [3, 4]]}</c>. Errors name the first offending
/// row (1-based) and column.
/// </summary>
public static class JsonDatasetParser
{
    public static NumericTable Parse(ReadOnlySpan<byte> utf8, DatasetLimits limits)
    {
        if (Utf8Text.FirstInvalidByte(utf8) is var invalid and >= 0)
            throw new DatasetValidationException($"The body is not valid UTF-8: byte {invalid} (0-based) starts an invalid sequence.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8.ToArray());
        }
        catch (JsonException e)
        {
            throw new DatasetValidationException($"The body is not valid JSON: {e.Message}", line: e.LineNumber + 1);
        }
        try
        {
            using (document)
                return Read(document, limits);
        }
        catch (InvalidOperationException e)
        {
            // Valid UTF-8 can still hold an escape that is no character (a lone surrogate such as \ud800): it fails
            // only when the string is decoded (found by fuzzing).
            throw new DatasetValidationException($"The JSON holds a string that is not valid text: {e.Message}");
        }
    }

    static NumericTable Read(JsonDocument document, DatasetLimits limits)
    {
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new DatasetValidationException("Expected a JSON object {\"columns\": [...], \"rows\": [[...], ...]}.");
        if (!root.TryGetProperty("columns", out var columnsElement) || columnsElement.ValueKind != JsonValueKind.Array)
            throw new DatasetValidationException("The JSON needs \"columns\": an array of column names (the header).", column: "columns");
        if (!root.TryGetProperty("rows", out var rowsElement) || rowsElement.ValueKind != JsonValueKind.Array)
            throw new DatasetValidationException("The JSON needs \"rows\": an array of arrays of numbers.", column: "rows");

        var columns = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in columnsElement.EnumerateArray())
        {
            if (name.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(name.GetString()))
                throw new DatasetValidationException($"columns[{columns.Count}] must be a non-empty string.", column: $"#{columns.Count + 1}");
            string s = name.GetString()!;
            if (!seen.Add(s))
                throw new DatasetValidationException($"Column name '{s}' appears twice in \"columns\".", column: s);
            columns.Add(s);
        }
        if (columns.Count == 0)
            throw new DatasetValidationException("\"columns\" is empty: name at least one column.", column: "columns");
        if (columns.Count > limits.MaxColumns)
            throw new DatasetValidationException($"The dataset has {columns.Count} columns; at most {limits.MaxColumns} are allowed (FlowService:Limits:MaxColumns).");

        int rowCount = rowsElement.GetArrayLength();
        if (rowCount == 0)
            throw new DatasetValidationException("\"rows\" is empty: the dataset needs at least one row.", row: 1);
        if (rowCount > limits.MaxRows)
            throw new DatasetValidationException($"The dataset has {rowCount} rows; at most {limits.MaxRows} are allowed (FlowService:Limits:MaxRows).", row: limits.MaxRows + 1L);

        var values = new double[(long)rowCount * columns.Count];
        int r = 0;
        foreach (var row in rowsElement.EnumerateArray())
        {
            ReadRow(row, r, columns, values);
            r++;
        }
        return new NumericTable(columns, rowCount, values);
    }

    static void ReadRow(JsonElement row, int r, List<string> columns, double[] values)
    {
        if (row.ValueKind != JsonValueKind.Array)
            throw new DatasetValidationException($"Row {r + 1} is not an array of numbers.", row: r + 1);
        int length = row.GetArrayLength();
        if (length != columns.Count)
            throw new DatasetValidationException($"Row {r + 1} has {length} values but there are {columns.Count} columns.", row: r + 1);
        int c = 0;
        foreach (var cell in row.EnumerateArray())
        {
            if (cell.ValueKind != JsonValueKind.Number || !cell.TryGetDouble(out double v))
                throw new DatasetValidationException($"Row {r + 1}, column '{columns[c]}': {Describe(cell)} is not a number.", row: r + 1, column: columns[c]);
            if (!double.IsFinite(v))
                throw new DatasetValidationException($"Row {r + 1}, column '{columns[c]}': the value overflows to infinity.", row: r + 1, column: columns[c]);
            values[(long)r * columns.Count + c] = v;
            c++;
        }
    }

    static string Describe(JsonElement cell)
    {
        string raw = cell.GetRawText();
        return raw.Length <= 40 ? raw : raw[..40] + "...";
    }
}
