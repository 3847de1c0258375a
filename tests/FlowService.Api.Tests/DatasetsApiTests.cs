using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace FlowService.Api.Tests;

public class DatasetsApiTests
{
    static StringContent Csv(string text) => new(text, Encoding.UTF8, "text/csv");

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Csv_upload_returns_statistics_and_is_listed_fetched_and_deleted(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend, worker: false);
        var client = factory.CreateClient();
        var response = await client.PostAsync("/datasets?name=demo", Csv("a,b\n1,10\n2,20\n3,60\n"));
        var created = await response.AssertJson(HttpStatusCode.Created);
        string id = created.Text("id")!;
        Assert.Equal($"/datasets/{id}", response.Headers.Location!.OriginalString);
        Assert.Equal(3, created.GetProperty("rows").GetInt32());
        Assert.Equal(2.0, created.GetProperty("statistics")[0].GetProperty("mean").GetDouble(), 12);
        Assert.Equal(60.0, created.GetProperty("statistics")[1].GetProperty("max").GetDouble());
        Assert.Equal(64, created.Text("sha256")!.Length);

        var list = await (await client.GetAsync("/datasets")).AssertJson(HttpStatusCode.OK);
        Assert.Equal(id, list[0].Text("id"));
        Assert.Equal("demo", (await (await client.GetAsync($"/datasets/{id}")).AssertJson(HttpStatusCode.OK)).Text("name"));
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/datasets/{id}")).StatusCode);
        await (await client.GetAsync($"/datasets/{id}")).AssertProblem(HttpStatusCode.NotFound);
        await (await client.DeleteAsync($"/datasets/{id}")).AssertProblem(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Json_and_npy_uploads_are_accepted(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend, worker: false);
        var client = factory.CreateClient();
        var json = new StringContent("""{"columns":["x","y"],"rows":[[1,2],[3,5],[4,4]]}""", Encoding.UTF8, "application/json");
        Assert.Equal(3, (await (await client.PostAsync("/datasets?name=j", json)).AssertJson(HttpStatusCode.Created)).GetProperty("rows").GetInt32());

        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
        header += new string(' ', (64 - (10 + header.Length + 1) % 64) % 64) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0 };
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        foreach (double v in new[] { 1.0, 2.0, 3.0, 5.0 })
            bytes.AddRange(BitConverter.GetBytes(v));
        var npy = new ByteArrayContent(bytes.ToArray());
        npy.Headers.ContentType = new MediaTypeHeaderValue("application/x-npy");
        var created = await (await client.PostAsync("/datasets?name=n&columns=p,q", npy)).AssertJson(HttpStatusCode.Created);
        Assert.Equal("q", created.GetProperty("columns")[1].GetString());
        Assert.Equal(3.5, created.GetProperty("statistics")[1].GetProperty("mean").GetDouble(), 12);
    }

    [Theory]
    [InlineData("a,b\n1,2\n3,x\n", 3, 2, "b", "not a number")]
    [InlineData("a,b\n1,2\n3,NaN\n", 3, 2, "b", "not finite")]
    [InlineData("a,b\n1,2\n3,4,5\n", 3, 2, null, "cells")]
    [InlineData("1,2\n3,4\n", 1, null, null, "header")]
    [InlineData("a,b\n", 2, 1, null, "no data rows")]
    [InlineData("a,b\n1,7\n2,7\n", null, null, "b", "zero variance")]
    public async Task Invalid_csv_is_a_problem_naming_line_row_and_column_and_stores_nothing(string csv, int? line, int? row, string? column, string message)
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        var problem = await (await client.PostAsync("/datasets?name=bad", Csv(csv))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Contains(message, problem.Text("detail"));
        if (line is not null) Assert.Equal(line, problem.GetProperty("line").GetInt32());
        if (row is not null) Assert.Equal(row, problem.GetProperty("row").GetInt32());
        if (column is not null) Assert.Equal(column, problem.Text("column"));
        Assert.Equal(0, (await (await client.GetAsync("/datasets")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
        Assert.Empty(Directory.Exists(Path.Combine(factory.DataPath, "datasets")) ? Directory.GetFiles(Path.Combine(factory.DataPath, "datasets")) : []);
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Body_over_the_byte_limit_is_413_and_row_and_column_limits_are_400(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend, worker: false, settings: new()
        {
            ["FlowService:Limits:MaxUploadBytes"] = "100",
            ["FlowService:Limits:MaxRows"] = "3",
            ["FlowService:Limits:MaxColumns"] = "2",
        });
        var client = factory.CreateClient();
        var big = "a,b\n" + string.Concat(Enumerable.Repeat("1.5,2.5\n", 20));
        await (await client.PostAsync("/datasets?name=big", Csv(big))).AssertProblem(HttpStatusCode.RequestEntityTooLarge);
        var rows = await (await client.PostAsync("/datasets?name=r", Csv("a\n1\n2\n3\n4\n"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Contains("MaxRows", rows.Text("detail"));
        var cols = await (await client.PostAsync("/datasets?name=c", Csv("a,b,c\n1,2,3\n"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Contains("MaxColumns", cols.Text("detail"));
        Assert.Equal(0, (await (await client.GetAsync("/datasets")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Missing_name_unknown_content_type_and_bad_npy_are_problems(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend, worker: false);
        var client = factory.CreateClient();
        Assert.Equal("name", (await (await client.PostAsync("/datasets", Csv("a\n1\n2\n"))).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
        await (await client.PostAsync("/datasets?name=x", new StringContent("<a/>", Encoding.UTF8, "application/xml"))).AssertProblem(HttpStatusCode.UnsupportedMediaType);
        var npy = new ByteArrayContent(Encoding.ASCII.GetBytes("not numpy at all"));
        npy.Headers.ContentType = new MediaTypeHeaderValue("application/x-npy");
        Assert.Contains("magic", (await (await client.PostAsync("/datasets?name=x", npy)).AssertProblem(HttpStatusCode.BadRequest)).Text("detail"));
        var json = new StringContent("""{"columns":["x","y"],"rows":[[1,2],[3,"a"]]}""", Encoding.UTF8, "application/json");
        var problem = await (await client.PostAsync("/datasets?name=x", json)).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal(2, problem.GetProperty("row").GetInt32());
        Assert.Equal("y", problem.Text("column"));
    }
}
