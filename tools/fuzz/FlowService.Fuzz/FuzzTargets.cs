using System.Text;
using System.Text.Json;
using FlowService.Api.Payloads;
using FlowService.Model.Checkpoints;
using FlowService.Model.Flows;
using FlowService.Model.Flows.Recipes;
using FlowService.Training.Datasets;

namespace FlowService.Fuzz;

/// <summary>
/// Every reader of untrusted bytes: uploads (CSV, JSON, .npy, each through the whole dataset validation), inference
/// bodies (.npy and JSON), and checkpoint files (safetensors, model.json down to the spec's size estimate). Limits are
/// small so one execution stays cheap; the code paths are the service's own.
/// </summary>
public static class FuzzTargets
{
    static readonly DatasetLimits Limits = new() { MaxRows = 2_000, MaxColumns = 64, MaxUploadBytes = 1 << 20 };
    static readonly string[] Names = ["x", "y", "z"];

    static byte[][] Tokens(params string[] tokens) =>
        tokens.Select(t => Encoding.UTF8.GetBytes(t)).Concat([[0xFF, 0xFF, 0xFF, 0xFF], [0x00], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0x7F], [0xC2, 0x85]]).ToArray();

    static readonly byte[][] NpyTokens = Tokens("'shape': (", "-1", "4611686018427387904", "2147483648", ", ", ")", "'<f4'", "'<f8'", "'>f8'", "True",
        "'fortran_order': ", "'descr': ", "\x93NUMPY\x02\x00", "\x93NUMPY\x01\x00", "}", "\n");
    static readonly byte[][] JsonTokens = Tokens("\"columns\":", "\"rows\":", "[", "]", "{", "}", ",", "\"", "\\u0000", "\\n", "\\ud800", "1e309", "-0",
        "NaN", "null", "true", "\"model\":", "\"version\":", "\"alias\":", "\"context\":", "\"z\":", "\"anomalyQuantile\":", "2147483648", "99999999999999999999");
    static readonly byte[][] CsvTokens = Tokens(",", "\n", "\r\n", "\"", "\"\"", "NaN", "Infinity", "1e309", "-", "\uFEFF", "\t", "0x10", "1,2");
    static readonly byte[][] SafeTensorsTokens = Tokens("\"dtype\":", "\"F32\"", "\"F64\"", "\"shape\":", "\"data_offsets\":", "[0,", "18446744073709551615", "-1",
        "\"__metadata__\":", "{", "}", "[", "]", "4294967296");
    static readonly byte[][] ModelJsonTokens = Tokens("\"spec\":", "\"type\":", "\"maf\"", "\"nsf\"", "\"glow\"", "\"realnvp\"", "\"nice\"", "\"layers\":", "\"hidden\":",
        "[4096,4096,4096,4096,4096,4096,4096,4096]", "\"bins\":", "\"features\":", "\"contextFeatures\":", "-1", "2147483647", "\"formatVersion\":", "\"columnNames\":", "null");

    public static readonly IReadOnlyList<FuzzTarget> All =
    [
        new("csv", bytes => DatasetParser.Parse(bytes, DatasetFormat.Csv, Limits), [typeof(DatasetValidationException)], CsvTokens),
        new("json-dataset", bytes => DatasetParser.Parse(bytes, DatasetFormat.Json, Limits), [typeof(DatasetValidationException)], JsonTokens),
        new("npy-dataset", bytes => DatasetParser.Parse(bytes, DatasetFormat.Npy, Limits), [typeof(DatasetValidationException)], NpyTokens),
        new("npy-inference", bytes => NpyMatrix.Read(bytes, Names, 1_000, out _, out _), [], NpyTokens),
        new("json-inference", JsonInference, [], JsonTokens),
        new("safetensors", bytes => SafeTensorsReader.Read(bytes), [typeof(SafeTensorsFormatException)], SafeTensorsTokens),
        new("model-json", ModelJson, [typeof(JsonException), typeof(FlowSpecException), typeof(CheckpointCorruptException)], ModelJsonTokens),
    ];

    /// <summary>What /score does with a JSON body: the target fields, then the rows and context matrices.</summary>
    static void JsonInference(byte[] bytes)
    {
        if (JsonInferenceReader.ReadTarget(bytes, out _) is not null)
            return;
        JsonInferenceReader.ReadMatrix(bytes, "rows", Names, 1_000, out _, out _, out _);
        JsonInferenceReader.HasElements(bytes, "context");
        JsonInferenceReader.ReadMatrix(bytes, "context", ["c"], 1_000, out _, out _, out _);
    }

    /// <summary>What loading a checkpoint does with model.json before the weights: parse it, then size its spec.</summary>
    static void ModelJson(byte[] bytes)
    {
        var info = JsonSerializer.Deserialize<CheckpointInfo>(bytes) ?? throw new CheckpointCorruptException("model.json is null.");
        if (info.Spec is null)
            throw new CheckpointCorruptException("model.json has no spec.");
        var spec = FlowSpec.Parse(info.Spec.ToJsonString());
        // The service sizes a stored model with the registry's column counts, which uploads bound (MaxColumns); the same bound here.
        if (info.Features > Limits.MaxColumns || info.ContextFeatures is < 0 || info.ContextFeatures > Limits.MaxColumns)
            throw new CheckpointCorruptException("more features than a dataset may have.");
        FlowRecipes.Estimate(spec, info.Features, info.ContextFeatures);
    }
}
