using FlowService.Api.Endpoints;
using FlowService.Training.Datasets;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FlowService.Api.Payloads;

/// <summary>Maps a scoring CSV (header in any order) onto a model's feature and context columns.</summary>
public static class CsvColumns
{
    public static ProblemHttpResult? Select(NumericTable table, IReadOnlyList<string> features, IReadOnlyList<string> context, out float[] x, out float[] c)
    {
        x = [];
        c = [];
        var expected = features.Concat(context).ToArray();
        var missing = expected.Where(name => !table.Columns.Contains(name)).ToArray();
        var extra = table.Columns.Where(name => !expected.Contains(name)).ToArray();
        if (missing.Length > 0 || extra.Length > 0)
            return Problems.Create(StatusCodes.Status400BadRequest, "The request is invalid.",
                $"The CSV header must name the model's columns ({string.Join(", ", expected)})." +
                (missing.Length > 0 ? $" Missing: {string.Join(", ", missing)}." : "") +
                (extra.Length > 0 ? $" Unknown: {string.Join(", ", extra)}." : ""),
                line: 1, column: missing.FirstOrDefault() ?? extra.First());
        x = Gather(table, features);
        c = Gather(table, context);
        return null;
    }

    static float[] Gather(NumericTable table, IReadOnlyList<string> names)
    {
        var index = names.Select(n => table.Columns.ToList().IndexOf(n)).ToArray();
        var result = new float[(long)table.Rows * index.Length];
        for (int r = 0; r < table.Rows; r++)
            for (int j = 0; j < index.Length; j++)
                result[(long)r * index.Length + j] = (float)table[r, index[j]];
        return result;
    }
}
