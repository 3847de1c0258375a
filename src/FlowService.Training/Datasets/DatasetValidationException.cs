namespace FlowService.Training.Datasets;

/// <summary>
/// An upload that cannot become a dataset. Carries where the first problem is, so the HTTP layer can
/// answer with a problem that names it: <see cref="Line"/> is the 1-based line of a CSV file,
/// <see cref="Row"/> the 1-based data row, <see cref="Column"/> the column's name (or "x{index}").
/// </summary>
public sealed class DatasetValidationException : Exception
{
    public DatasetValidationException(string message, long? line = null, long? row = null, string? column = null, bool tooLarge = false)
        : base(message)
    {
        Line = line;
        Row = row;
        Column = column;
        TooLarge = tooLarge;
    }

    public long? Line { get; }

    public long? Row { get; }

    public string? Column { get; }

    /// <summary>True when the body exceeds the configured byte limit (HTTP 413).</summary>
    public bool TooLarge { get; }
}
