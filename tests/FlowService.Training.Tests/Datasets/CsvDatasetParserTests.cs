using System.Text;
using FlowService.Training.Datasets;

namespace FlowService.Training.Tests.Datasets;

public class CsvDatasetParserTests
{
    static readonly DatasetLimits Limits = new();

    static NumericTable Parse(string csv, DatasetLimits? limits = null) =>
        DatasetParser.Parse(Encoding.UTF8.GetBytes(csv), DatasetFormat.Csv, limits ?? Limits);

    static DatasetValidationException Reject(string csv, DatasetLimits? limits = null) =>
        Assert.Throws<DatasetValidationException>(() => Parse(csv, limits));

    [Fact]
    public void Parses_header_and_rows_with_crlf_quotes_and_exponents()
    {
        var table = Parse("\uFEFFa,\"b\"\r\n1,2.5\r\n-3e2,\"4\"\r\n\r\n");
        Assert.Equal(["a", "b"], table.Columns);
        Assert.Equal(2, table.Rows);
        Assert.Equal([1, 2.5, -300, 4], table.Values);
    }

    [Fact]
    public void Non_numeric_cell_names_line_row_and_column()
    {
        var e = Reject("a,b\n1,2\n3,abc\n");
        Assert.Equal(3, e.Line);
        Assert.Equal(2, e.Row);
        Assert.Equal("b", e.Column);
        Assert.Contains("'abc' is not a number", e.Message);
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("1e400")]
    public void Non_finite_values_are_rejected(string cell)
    {
        var e = Reject($"a,b\n1,2\n{cell},3\n4,5\n");
        Assert.Equal(3, e.Line);
        Assert.Equal("a", e.Column);
        Assert.Contains("not finite", e.Message);
    }

    [Fact]
    public void Ragged_rows_name_the_line()
    {
        Assert.Equal(3, Reject("a,b\n1,2\n1,2,3\n").Line);
        var shortRow = Reject("a,b\n1,2\n3,4\n5\n");
        Assert.Equal(4, shortRow.Line);
        Assert.Contains("has 1 cells", shortRow.Message);
    }

    [Fact]
    public void Numeric_first_line_is_a_missing_header()
    {
        var e = Reject("1,2\n3,4\n");
        Assert.Equal(1, e.Line);
        Assert.Contains("header", e.Message);
    }

    [Fact]
    public void Empty_body_and_header_only_are_rejected()
    {
        Assert.Contains("empty", Reject("").Message);
        Assert.Contains("no data rows", Reject("a,b\n").Message);
    }

    [Fact]
    public void Duplicate_and_empty_column_names_are_rejected()
    {
        Assert.Equal("a", Reject("a,a\n1,2\n3,4\n").Column);
        Assert.Contains("empty", Reject("a,,c\n1,2,3\n").Message);
    }

    [Fact]
    public void Zero_variance_columns_are_rejected_by_name()
    {
        var e = Reject("a,b,c\n1,5,7\n2,5,7\n3,5,7\n");
        Assert.Equal("b", e.Column);
        Assert.Contains("'b', 'c'", e.Message);
        Assert.Contains("zero variance", e.Message);
    }

    [Fact]
    public void Limits_on_rows_columns_and_bytes()
    {
        Assert.Contains("MaxRows", Reject("a\n1\n2\n3\n", new DatasetLimits { MaxRows = 2 }).Message);
        Assert.Contains("MaxColumns", Reject("a,b,c\n1,2,3\n4,5,6\n", new DatasetLimits { MaxColumns = 2 }).Message);
        Assert.True(Reject("a,b\n1,2\n3,4\n", new DatasetLimits { MaxUploadBytes = 5 }).TooLarge);
    }

    [Fact]
    public void Blank_line_inside_the_data_is_rejected()
    {
        Assert.Equal(3, Reject("a\n1\n\n2\n").Line);
    }
}
