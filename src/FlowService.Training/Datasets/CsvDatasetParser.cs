using System.Globalization;
using System.Text;

namespace FlowService.Training.Datasets;

/// <summary>
/// Parses a comma-separated file whose first line names the columns and whose other lines hold
/// numbers. Cells may be wrapped in double quotes; blank lines at the end are ignored. Every error
/// names the first offending line (1-based, the header is line 1), data row and column.
/// </summary>
public static class CsvDatasetParser
{
    public static NumericTable Parse(ReadOnlySpan<byte> utf8, DatasetLimits limits)
    {
        if (utf8.StartsWith(Encoding.UTF8.Preamble))
            utf8 = utf8[Encoding.UTF8.Preamble.Length..];
        string text = Encoding.UTF8.GetString(utf8);
        var lines = new LineReader(text);

        if (!lines.TryNext(out var headerLine) || headerLine.IsWhiteSpace())
            throw new DatasetValidationException("The CSV body is empty: expected a header line naming the columns, then numeric rows.", line: 1);
        string[] columns = SplitCells(headerLine);
        ValidateHeader(columns, limits);

        var values = new List<double>();
        long row = 0;
        int lineNumber = 1;
        var pendingBlank = 0;
        while (lines.TryNext(out var line))
        {
            lineNumber++;
            if (line.IsWhiteSpace())
            {
                pendingBlank++;
                continue;
            }
            if (pendingBlank > 0)
                throw new DatasetValidationException($"Line {lineNumber - pendingBlank} is blank inside the data; remove blank lines between rows.", line: lineNumber - pendingBlank, row: row + 1);
            row++;
            if (row > limits.MaxRows)
                throw new DatasetValidationException($"The dataset has more than the {limits.MaxRows} rows allowed (FlowService:Limits:MaxRows).", line: lineNumber, row: row);
            ParseRow(line, columns, lineNumber, row, values);
        }
        if (row == 0)
            throw new DatasetValidationException("The CSV has a header but no data rows.", line: 2, row: 1);
        return new NumericTable(columns, checked((int)row), values.ToArray());
    }

    static void ValidateHeader(string[] columns, DatasetLimits limits)
    {
        if (columns.Length > limits.MaxColumns)
            throw new DatasetValidationException($"The dataset has {columns.Length} columns; at most {limits.MaxColumns} are allowed (FlowService:Limits:MaxColumns).", line: 1);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        bool allNumeric = true;
        for (int c = 0; c < columns.Length; c++)
        {
            string name = columns[c];
            if (name.Length == 0)
                throw new DatasetValidationException($"Header cell {c + 1} is empty; every column needs a name.", line: 1, column: $"#{c + 1}");
            if (!seen.Add(name))
                throw new DatasetValidationException($"Column name '{name}' appears twice in the header.", line: 1, column: name);
            allNumeric &= double.TryParse(name, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
        }
        if (allNumeric)
            throw new DatasetValidationException("The first line holds numbers, not column names: the CSV needs a header line naming the columns.", line: 1);
    }

    static void ParseRow(ReadOnlySpan<char> line, string[] columns, int lineNumber, long row, List<double> values)
    {
        int c = 0;
        foreach (var range in line.Split(','))
        {
            if (c >= columns.Length)
            {
                int count = line.Count(',') + 1;
                throw new DatasetValidationException($"Line {lineNumber} has {count} cells but the header names {columns.Length} columns.", line: lineNumber, row: row);
            }
            var cell = Unquote(line[range].Trim());
            if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                throw new DatasetValidationException($"Line {lineNumber}, column '{columns[c]}': '{Truncate(cell)}' is not a number.", line: lineNumber, row: row, column: columns[c]);
            if (!double.IsFinite(v))
                throw new DatasetValidationException($"Line {lineNumber}, column '{columns[c]}': '{Truncate(cell)}' is not finite (NaN and infinities are not accepted).", line: lineNumber, row: row, column: columns[c]);
            values.Add(v);
            c++;
        }
        if (c != columns.Length)
            throw new DatasetValidationException($"Line {lineNumber} has {c} cells but the header names {columns.Length} columns.", line: lineNumber, row: row, column: columns[c]);
    }

    static string[] SplitCells(ReadOnlySpan<char> line)
    {
        var cells = new List<string>();
        foreach (var range in line.Split(','))
            cells.Add(Unquote(line[range].Trim()).ToString());
        return cells.ToArray();
    }

    static ReadOnlySpan<char> Unquote(ReadOnlySpan<char> cell) =>
        cell.Length >= 2 && cell[0] == '"' && cell[^1] == '"' ? cell[1..^1].Trim() : cell;

    static string Truncate(ReadOnlySpan<char> cell) => cell.Length <= 40 ? cell.ToString() : cell[..40].ToString() + "...";

    /// <summary>Yields lines split on \n with a trailing \r removed; no allocation per line.</summary>
    ref struct LineReader(string text)
    {
        int _position;

        public bool TryNext(out ReadOnlySpan<char> line)
        {
            if (_position >= text.Length)
            {
                line = default;
                return false;
            }
            var rest = text.AsSpan(_position);
            int end = rest.IndexOf('\n');
            line = end < 0 ? rest : rest[..end];
            _position += end < 0 ? rest.Length : end + 1;
            if (line.Length > 0 && line[^1] == '\r')
                line = line[..^1];
            return true;
        }
    }
}
