namespace FlowService.Training.Datasets;

/// <summary>
/// A parsed, validated dataset: named columns and finite values, row-major (row stride = column count).
/// Values are kept in double precision so statistics and the stored copy lose nothing the client sent;
/// the engine converts to float32 when it trains.
/// </summary>
public sealed class NumericTable
{
    public NumericTable(IReadOnlyList<string> columns, int rows, double[] values)
    {
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(values);
        if ((long)rows * columns.Count != values.Length)
            throw new ArgumentException($"{rows} rows x {columns.Count} columns need {(long)rows * columns.Count} values, got {values.Length}.");
        Columns = columns;
        Rows = rows;
        Values = values;
    }

    public IReadOnlyList<string> Columns { get; }

    public int Rows { get; }

    public int ColumnCount => Columns.Count;

    /// <summary>Row-major values: element (r, c) is at r * ColumnCount + c.</summary>
    public double[] Values { get; }

    public double this[int row, int column] => Values[row * ColumnCount + column];

    /// <summary>Set when every row is an image (IDX or an N-D .npy upload); null for tables.</summary>
    public DatasetImage? Image { get; init; }

    /// <summary>The values as float32, row-major, as the flow engine consumes them.</summary>
    public float[] ToSingle()
    {
        var result = new float[Values.Length];
        for (int i = 0; i < Values.Length; i++)
            result[i] = (float)Values[i];
        return result;
    }
}
