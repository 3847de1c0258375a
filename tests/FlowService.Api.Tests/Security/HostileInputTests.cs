using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using FlowService.Api.Tests.Scoring;

namespace FlowService.Api.Tests.Security;

/// <summary>
/// The attacker's probes from the security review, each over real HTTP: names that end in a newline or hold control
/// characters, .npy headers with a 0xFFFFFFFF length or negative dimensions, invalid UTF-8 in JSON strings and a
/// rows x columns x itemsize product that wraps around. Every one is a 4xx problem, never a 500, and stores nothing.
/// </summary>
public class HostileInputTests
{
    static ByteArrayContent Body(byte[] bytes, string mediaType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return content;
    }

    /// <summary>A version-2 .npy whose header-length field says 0xFFFFFFFF.</summary>
    static byte[] NpyV2WithHugeHeaderLength() =>
        [0x93, .. "NUMPY"u8, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF, .. "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }\n"u8];

    /// <summary>{"columns": ["a", "b&lt;0xC3 0x28&gt;"], ...}: 0xC3 opens a two-byte sequence that 0x28 does not continue.</summary>
    static byte[] JsonWithInvalidUtf8ColumnName() =>
        [.. "{\"columns\":[\"a\",\"b"u8, 0xC3, 0x28, .. "\"],\"rows\":[[1,2],[3,5]]}"u8];

    [Theory]
    [InlineData("evil%0A")]
    [InlineData("evil%0D%0A")]
    [InlineData("ev%00il")]
    [InlineData("evil%1B%5B31m")]
    public async Task Dataset_names_with_a_trailing_newline_or_control_characters_are_refused(string encodedName)
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        var problem = await (await client.PostAsync($"/datasets?name={encodedName}", new StringContent("a,b\n1,2\n3,5\n", Encoding.UTF8, "text/csv")))
            .AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("name", problem.Text("field"));
        Assert.Equal(0, (await (await client.GetAsync("/datasets")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
    }

    [Theory]
    [InlineData("evil\n")]
    [InlineData("evil\r\n")]
    [InlineData("ev\u0000il")]
    public async Task Model_names_with_a_trailing_newline_or_control_characters_are_refused_before_a_job_exists(string model)
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        var upload = await (await client.PostAsync("/datasets?name=d", new StringContent("a,b\n1,2\n3,5\n", Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created);
        var problem = await (await client.PostAsJsonAsync("/jobs", new { datasetId = upload.Text("id"), model })).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("model", problem.Text("field"));
        Assert.Equal(0, (await (await client.GetAsync("/jobs")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
        Assert.False(Directory.Exists(Path.Combine(factory.DataPath, "models")) && Directory.EnumerateFileSystemEntries(Path.Combine(factory.DataPath, "models")).Any());
    }

    [Theory]
    [InlineData("prod%0A")]
    [InlineData("12%0A")]
    [InlineData("pr%09od")]
    public async Task Aliases_with_a_trailing_newline_or_control_characters_are_refused(string encodedAlias)
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        var problem = await (await client.PutAsJsonAsync($"/models/m/aliases/{encodedAlias}", new { version = 1 })).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("alias", problem.Text("field"));
    }

    [Theory]
    [InlineData("a\nb", "#1")]
    [InlineData("x\u007f", "#1")]
    [InlineData("\u009by", "#1")]
    public async Task Column_names_with_control_characters_are_refused_in_every_upload_format(string badName, string column)
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        string escaped = System.Text.Json.JsonSerializer.Serialize(badName);
        var json = new StringContent($$"""{"columns":[{{escaped}},"b"],"rows":[[1,2],[3,5]]}""", Encoding.UTF8, "application/json");
        var fromJson = await (await client.PostAsync("/datasets?name=j", json)).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal(column, fromJson.Text("column"));
        Assert.Contains("control character", fromJson.Text("detail"));

        var npy = Body(NpyBytes.Float64(2, 2, [1, 2, 3, 5]), "application/x-npy");
        var fromNpy = await (await client.PostAsync($"/datasets?name=n&columns={Uri.EscapeDataString(badName)},b", npy)).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal(column, fromNpy.Text("column"));

        if (!badName.Contains('\n'))
        {
            var csv = new StringContent($"{badName},b\n1,2\n3,5\n", Encoding.UTF8, "text/csv");
            Assert.Equal(column, (await (await client.PostAsync("/datasets?name=c", csv)).AssertProblem(HttpStatusCode.BadRequest)).Text("column"));
        }
        Assert.Equal(0, (await (await client.GetAsync("/datasets")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
    }

    [Fact]
    public async Task Malformed_dataset_uploads_are_problems_not_server_errors()
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();

        var hugeHeader = await (await client.PostAsync("/datasets?name=h", Body(NpyV2WithHugeHeaderLength(), "application/x-npy"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Contains("truncated", hugeHeader.Text("detail"));

        var negative = NpyBytes.Build("<f8", "(-1, -1)", BitConverter.GetBytes(1.0));
        var negativeProblem = await (await client.PostAsync("/datasets?name=neg", Body(negative, "application/x-npy"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("shape", negativeProblem.Text("column"));
        var negativeWrap = NpyBytes.Build("<f8", "(-4611686018427387904, 2)", []);
        Assert.Equal("shape", (await (await client.PostAsync("/datasets?name=neg2", Body(negativeWrap, "application/x-npy"))).AssertProblem(HttpStatusCode.BadRequest)).Text("column"));

        var invalidUtf8 = await (await client.PostAsync("/datasets?name=u", Body(JsonWithInvalidUtf8ColumnName(), "application/json"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Contains("UTF-8", invalidUtf8.Text("detail"));
        Assert.Contains("byte 18", invalidUtf8.Text("detail"));

        Assert.Equal(0, (await (await client.GetAsync("/datasets")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
    }

    [Fact]
    public async Task Malformed_job_bodies_are_problems_not_server_errors()
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        byte[] invalidUtf8Model = [.. "{\"datasetId\":\"x\",\"model\":\"m"u8, 0xFF, .. "\"}"u8];
        await (await client.PostAsync("/jobs", Body(invalidUtf8Model, "application/json"))).AssertProblem(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Malformed_inference_bodies_are_problems_not_server_errors()
    {
        await using var factory = new FlowServiceFactory();
        var client = factory.CreateClient();
        await InferencePayloadTests.TrainAsync(client, "m");

        var hugeHeader = await (await client.PostAsync("/score?model=m", Body(NpyV2WithHugeHeaderLength(), "application/x-npy"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Contains("truncated", hugeHeader.Text("detail"));

        // -2^62 rows x 2 columns x 8 bytes wraps to 0 bytes, the length of the empty data that follows.
        var wrapping = NpyBytes.Build("<f8", "(-4611686018427387904, 2)", []);
        Assert.Equal("shape", (await (await client.PostAsync("/score?model=m", Body(wrapping, "application/x-npy"))).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
        var negative = NpyBytes.Build("<f4", "(-1, 2)", []);
        Assert.Equal("shape", (await (await client.PostAsync("/encode?model=m", Body(negative, "application/x-npy"))).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));

        byte[] invalidUtf8Model = [.. "{\"model\":\"m"u8, 0xC3, 0x28, .. "\",\"rows\":[[1,2]]}"u8];
        var utf8Problem = await (await client.PostAsync("/score", Body(invalidUtf8Model, "application/json"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("$", utf8Problem.Text("field"));
        byte[] invalidUtf8Cell = [.. "{\"model\":\"m\",\"rows\":[[1,\""u8, 0xFF, .. "\"]]}"u8];
        await (await client.PostAsync("/score", Body(invalidUtf8Cell, "application/json"))).AssertProblem(HttpStatusCode.BadRequest);
    }

    /// <summary>Found by the fuzzer (tools/fuzz): valid UTF-8, valid JSON syntax, but an escape that is no text.</summary>
    [Fact]
    public async Task Lone_surrogate_escapes_in_json_strings_are_problems_not_server_errors()
    {
        await using var factory = new FlowServiceFactory();
        var client = factory.CreateClient();
        StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");
        var dataset = await (await client.PostAsync("/datasets?name=s", Json("{\"columns\":[\"a\\ud800\",\"b\"],\"rows\":[[1,2],[3,5]]}"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Contains("not valid text", dataset.Text("detail"));
        await (await client.PostAsync("/datasets?name=s", Json("{\"col\\udc00umns\":[\"a\"],\"rows\":[[1],[3]]}"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal(0, (await (await client.GetAsync("/datasets")).AssertJson(HttpStatusCode.OK)).GetArrayLength());

        await InferencePayloadTests.TrainAsync(client, "m");
        Assert.Equal("$", (await (await client.PostAsync("/score", Json("{\"model\":\"m\\ud800\",\"rows\":[[1,2]]}"))).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
        await (await client.PostAsync("/score", Json("{\"mo\\ud800del\":\"m\",\"rows\":[[1,2]]}"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("rows[0][1]", (await (await client.PostAsync("/score", Json("{\"model\":\"m\",\"rows\":[[1,\"\\ud800\"]]}"))).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
    }
}
