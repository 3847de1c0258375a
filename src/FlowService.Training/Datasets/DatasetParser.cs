namespace FlowService.Training.Datasets;

/// <summary>The upload formats a dataset can arrive in.</summary>
public enum DatasetFormat
{
    Csv,
    Json,
    Npy,

    /// <summary>IDX archives as MNIST ships them (images (N, H, W) of unsigned bytes), gzipped or not.</summary>
    Idx,
}

/// <summary>
/// Turns an upload into a validated <see cref="NumericTable"/>: parses the format, then rejects columns
/// with zero variance (a constant column has no density: standardizing it divides by zero, and every
/// flow would assign it an infinite log p), naming every such column. Image datasets (IDX, or a .npy
/// of 3 or 4 dimensions) keep constant pixels: image flows model dequantized pixels, whose density is
/// finite everywhere, and a background that is always black is the rule, not an error.
/// </summary>
public static class DatasetParser
{
    public static NumericTable Parse(ReadOnlySpan<byte> body, DatasetFormat format, DatasetLimits limits, IReadOnlyList<string>? npyColumns = null)
    {
        if (body.Length > limits.MaxUploadBytes)
            throw new DatasetValidationException($"The body has {body.Length} bytes; at most {limits.MaxUploadBytes} are allowed (FlowService:Limits:MaxUploadBytes).", tooLarge: true);
        var table = format switch
        {
            DatasetFormat.Csv => CsvDatasetParser.Parse(body, limits),
            DatasetFormat.Json => JsonDatasetParser.Parse(body, limits),
            DatasetFormat.Npy => NpyFormat.Parse(body, limits, npyColumns),
            DatasetFormat.Idx => ImageTables.FromIdx(body, limits),
            _ => throw new ArgumentOutOfRangeException(nameof(format)),
        };
        RejectControlCharacters(table.Columns);
        if (table.Image is null)
            RejectConstantColumns(table);
        else if (table.Rows < 2)
            throw new DatasetValidationException($"The dataset has {table.Rows} image; at least 2 are needed to estimate a density.", row: table.Rows);
        return table;
    }

    /// <summary>
    /// Column names end up in logs, problems, CSV headers and checkpoints: a newline or escape in one could forge a
    /// log line or a CSV row, so no control character (C0, DEL, C1) is accepted anywhere in a name.
    /// </summary>
    public static void RejectControlCharacters(IReadOnlyList<string> columns)
    {
        for (int c = 0; c < columns.Count; c++)
        {
            int at = columns[c].AsSpan().IndexOfAnyInRange('\u0000', '\u001f');
            if (at < 0) at = columns[c].AsSpan().IndexOfAnyInRange('\u007f', '\u009f');
            if (at >= 0)
                throw new DatasetValidationException(
                    $"Column name #{c + 1} holds the control character U+{(int)columns[c][at]:X4} at position {at + 1}; column names must be printable text.",
                    column: $"#{c + 1}");
        }
    }

    public static void RejectConstantColumns(NumericTable table)
    {
        if (table.Rows < 2)
            throw new DatasetValidationException($"The dataset has {table.Rows} row; at least 2 rows are needed to estimate a density.", row: table.Rows);
        var constant = new List<string>();
        int cols = table.ColumnCount;
        for (int c = 0; c < cols; c++)
        {
            double first = table.Values[c];
            bool same = true;
            for (int r = 1; r < table.Rows && same; r++)
                same = table.Values[r * cols + c] == first;
            if (same)
                constant.Add(table.Columns[c]);
        }
        if (constant.Count > 0)
            throw new DatasetValidationException(
                $"Column{(constant.Count > 1 ? "s" : "")} {string.Join(", ", constant.Select(n => $"'{n}'"))} {(constant.Count > 1 ? "have" : "has")} zero variance (every value is the same); " +
                "a constant column has no density. Drop it before uploading.",
                column: constant[0]);
    }
}
