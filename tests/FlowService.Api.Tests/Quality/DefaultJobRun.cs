using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FlowService.Api.Tests.Quality;

/// <summary>
/// A user's path with the defaults, through real HTTP: upload the training rows as CSV, POST /jobs with
/// only datasetId and model (so the default flow and training settings), wait for the version, then
/// POST /score the held-out rows. Returns their log p (nats, data units), the version and the time
/// from the job's creation to its end.
/// </summary>
public static class DefaultJobRun
{
    public sealed record Outcome(float[] LogProb, JsonElement Version, JsonElement Job, double Seconds);

    public static async Task<Outcome> TrainAndScoreAsync(HttpClient client, string model, float[] train, int columns, float[] heldOut, int timeoutSeconds)
    {
        var csv = new StringBuilder(string.Join(',', Enumerable.Range(0, columns).Select(j => $"c{j}"))).Append('\n');
        for (int r = 0; r < train.Length / columns; r++)
            csv.AppendJoin(',', train.AsSpan(r * columns, columns).ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture))).Append('\n');
        var upload = await client.PostAsync($"/datasets?name={model}", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"));
        string dataset = (await upload.AssertJson(HttpStatusCode.Created)).Text("id")!;

        var started = Stopwatch.StartNew();
        var created = await client.PostAsJsonAsync("/jobs", new { datasetId = dataset, model });
        string job = (await created.AssertJson(HttpStatusCode.Accepted)).Text("id")!;
        var finished = await EndToEndTests.WaitAsync(client, job, j => j.Text("state") is "succeeded" or "failed" or "cancelled", timeoutSeconds);
        double seconds = started.Elapsed.TotalSeconds;
        Assert.True(finished.Text("state") == "succeeded", $"the default job on {model} did not succeed: {finished}");
        int versionNumber = finished.GetProperty("modelVersion").GetInt32();
        var version = await (await client.GetAsync($"/models/{model}/versions/{versionNumber}")).AssertJson(HttpStatusCode.OK);

        int rows = heldOut.Length / columns;
        var body = new { model, rows = Enumerable.Range(0, rows).Select(r => heldOut.AsSpan(r * columns, columns).ToArray()).ToArray() };
        var scored = await (await client.PostAsJsonAsync("/score", body)).AssertJson(HttpStatusCode.OK);
        var logProb = scored.GetProperty("logProb").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        Assert.Equal(rows, logProb.Length);
        return new Outcome(logProb, version, finished, seconds);
    }
}
