using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace FlowService.Api.Tests.Security;

/// <summary>
/// Inputs the fuzzer (tools/fuzz) found to escape a parser, replayed over real HTTP: each was a 500 before its fix and
/// must stay a 4xx problem naming the field. Bytes are spelled out so that the test never depends on the corpus.
/// </summary>
public class FuzzFindingsTests
{
    static ByteArrayContent Json(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <summary>
    /// Invalid UTF-8 (0xBF 0xF1; 0xC3 0x28; a lone 0xF3) or an unpaired surrogate escape in a string or a property name
    /// of a job's "target" or "flow": System.Text.Json keeps such bytes in a JsonElement and throws
    /// InvalidOperationException only when the string is read (found by the "target" and "flow-spec" fuzz targets).
    /// </summary>
    public static TheoryData<string, byte[], string> InvalidTextInJobs => new()
    {
        { "target name", [.. "{\"model\":\"m\",\"target\":{\"name\":\"funnel"u8, 0xBF, 0xF1, .. "\",\"dimensions\":10}}"u8], "target.name" },
        { "target expression", [.. "{\"model\":\"m\",\"target\":{\"expression\":\"-x0^2"u8, 0xC3, 0x28, .. "\",\"dimensions\":1}}"u8], "target.expression" },
        { "target field name", [.. "{\"model\":\"m\",\"target\":{\"na"u8, 0xFF, .. "me\":\"funnel\",\"dimensions\":10}}"u8], "target" },
        { "surrogate escape", [.. "{\"model\":\"m\",\"target\":{\"name\":\"funnel\\ud800\",\"dimensions\":10}}"u8], "target.name" },
        { "flow type", [.. "{\"model\":\"m\",\"target\":{\"name\":\"banana\",\"dimensions\":2},\"flow\":{\"type\":\"realnvp"u8, 0xF3, .. "\"}}"u8], "flow.type" },
        { "auto candidate", [.. "{\"model\":\"m\",\"target\":{\"name\":\"banana\",\"dimensions\":2},\"flow\":{\"type\":\"auto\",\"candidates\":[{\"type\":\"realnvp"u8, 0xF3, .. "\"}]}}"u8], "flow.candidates[0].type" },
    };

    [Theory]
    [MemberData(nameof(InvalidTextInJobs))]
    public async Task Invalid_text_in_a_target_fit_job_is_a_400_naming_the_field(string what, byte[] body, string field)
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var problem = await (await factory.CreateClient().PostAsync("/jobs", Json(body))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.True(problem.Text("field") == field, $"{what}: field {problem.Text("field")}, expected {field}");
    }

    [Fact]
    public async Task Invalid_text_in_the_flow_of_a_dataset_job_is_a_400_naming_the_field()
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        var tabular = (await (await client.PostAsync("/datasets?name=t", new StringContent("a,b\n1,2\n3,5\n4,4\n", Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created)).Text("id")!;
        // An image dataset too: its jobs' specs are read (for "auto" and the image fields) before they are validated.
        byte[] idx = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 255, 128, 7, 1, 2, 3, 4];
        var upload = new ByteArrayContent(idx);
        upload.Headers.ContentType = new MediaTypeHeaderValue("application/x-idx");
        var images = (await (await client.PostAsync("/datasets?name=i", upload)).AssertJson(HttpStatusCode.Created)).Text("id")!;
        foreach (var dataset in new[] { tabular, images })
        {
            foreach (var (flow, field) in new (byte[], string)[]
                     {
                         ([.. "{\"type\":\"au"u8, 0xC3, 0x28, .. "to\"}"u8], "flow.type"),
                         ([.. "{\"type\":\"realnvp\",\"coupling\":\"add"u8, 0xFF, .. "\"}"u8], "flow.coupling"),
                     })
            {
                byte[] body = [.. Encoding.UTF8.GetBytes($"{{\"datasetId\":\"{dataset}\",\"model\":\"m\",\"flow\":"), .. flow, .. "}"u8];
                var problem = await (await client.PostAsync("/jobs", Json(body))).AssertProblem(HttpStatusCode.BadRequest);
                Assert.Equal(field, problem.Text("field"));
            }
        }
    }

    /// <summary>
    /// An IDX header whose sizes (8, 0x03040000, 0x30000000, 0x30000000) multiply to 0 modulo 2^64, with no data (found by
    /// the "idx" fuzz target): it passed as images of a negative size and naming their columns threw. Now a 400 on "shape".
    /// </summary>
    [Fact]
    public async Task An_idx_upload_whose_shape_product_wraps_around_is_a_400_on_the_shape()
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        var upload = new ByteArrayContent([0, 0, 8, 4, 0, 0, 0, 8, 3, 4, 0, 0, 0x30, 0, 0, 0, 0x30, 0, 0, 0]);
        upload.Headers.ContentType = new MediaTypeHeaderValue("application/x-idx");
        var problem = await (await client.PostAsync("/datasets?name=wrapped", upload)).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("shape", problem.Text("column"));
        Assert.Equal(0, (await (await client.GetAsync("/datasets")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
    }
}
