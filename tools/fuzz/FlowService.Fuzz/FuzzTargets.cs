using System.Text;
using System.Text.Json;
using FlowService.Api.Payloads;
using FlowService.Model.Checkpoints;
using FlowService.Model.Flows;
using FlowService.Model.Flows.Recipes;
using FlowService.Model.Targets;
using FlowService.Model.Targets.Expressions;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Images;

namespace FlowService.Fuzz;

/// <summary>
/// Every reader of untrusted bytes: uploads (CSV, JSON, .npy, IDX images, each through the whole dataset validation),
/// inference bodies (.npy and JSON), a job's flow spec (Flow++ and the image flows included) and reverse-KL target
/// (the expression language's parser, compiler and evaluator), and checkpoint files (safetensors, model.json down to the
/// spec's size estimate). Limits are small so one execution stays cheap; the code paths are the service's own.
/// </summary>
public static class FuzzTargets
{
    static readonly DatasetLimits Limits = new() { MaxRows = 2_000, MaxColumns = 64, MaxUploadBytes = 1 << 20, MaxImageValues = 3 * 32 * 32, MaxImageDatasetValues = 1 << 20 };
    static readonly FlowEngineCatalog Engines = new([new NormalizingFlowEngine()]);
    static readonly DatasetImage GreyImages = new(1, 8, 8, 0, 255, Discrete: true);
    static readonly DatasetImage ColourImages = new(3, 4, 4, 0, 0.9, Discrete: false);
    // Four rows of three dimensions, reused: the evaluator's inputs are not what is under test, its tape is.
    static readonly float[] ExpressionRows = [0f, 1f, -2f, 0.5f, -0.25f, 3f, 1e-3f, -7f, 2f, 40f, -40f, 0f];
    static readonly JsonElement DefaultTargetFlow = JsonDocument.Parse("""{"type":"realnvp"}""").RootElement.Clone();
    [ThreadStatic] static double[]? t_values;
    [ThreadStatic] static double[]? t_gradient;
    static readonly string[] Names = ["x", "y", "z"];

    static byte[][] Tokens(params string[] tokens) =>
        tokens.Select(t => Encoding.UTF8.GetBytes(t)).Concat([[0xFF, 0xFF, 0xFF, 0xFF], [0x00], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0x7F], [0xC2, 0x85]]).ToArray();

    // The magic strings as raw bytes: "\x93" in a string token would be UTF-8 encoded into C2 93.
    static readonly byte[][] NpyTokens = Tokens("'shape': (", "-1", "4611686018427387904", "2147483648", ", ", ")", "'<f4'", "'<f8'", "'>f8'", "True",
        "'fortran_order': ", "'descr': ", "}", "\n").Concat([[0x93, .."NUMPY"u8, 2, 0], [0x93, .."NUMPY"u8, 1, 0]]).ToArray();
    static readonly byte[][] JsonTokens = Tokens("\"columns\":", "\"rows\":", "[", "]", "{", "}", ",", "\"", "\\u0000", "\\n", "\\ud800", "1e309", "-0",
        "NaN", "null", "true", "\"model\":", "\"version\":", "\"alias\":", "\"context\":", "\"z\":", "\"anomalyQuantile\":", "2147483648", "99999999999999999999");
    static readonly byte[][] CsvTokens = Tokens(",", "\n", "\r\n", "\"", "\"\"", "NaN", "Infinity", "1e309", "-", "\uFEFF", "\t", "0x10", "1,2");
    static readonly byte[][] SafeTensorsTokens = Tokens("\"dtype\":", "\"F32\"", "\"F64\"", "\"shape\":", "\"data_offsets\":", "[0,", "18446744073709551615", "-1",
        "\"__metadata__\":", "{", "}", "[", "]", "4294967296");
    // Raw bytes, not text: a string token's chars above 0x7F would be UTF-8 encoded into two bytes.
    static readonly byte[][] IdxTokens =
    [
        [0, 0, 8, 1], [0, 0, 8, 3], [0, 0, 8, 4], [0, 0, 8, 5], [0, 0, 0x0D, 3], [0x1F, 0x8B, 8, 0], [0x7F, 0xFF, 0xFF, 0xFF], [0x80, 0, 0, 0],
        [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 3], [0, 0, 0, 8], [0, 0, 0, 0x1C], [0, 1, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [0xFF], [0x00],
    ];
    static readonly byte[][] ExpressionTokens = Tokens("x0", "x1", "x2", "x3", "x[", "]", "i", "i=0..2,", "i=0..99999,", "sum(", "logsumexp(", "exp(", "log(", "log1p(",
        "sqrt(", "sin(", "cos(", "tanh(", "softplus(", "pi", "e", "^", "^-1", "^0.5", "-", "+", "*", "/", "(", ")", ",", "1e308", "1e-320", "2147483648", "-2147483649",
        "0..", "..", "x[i+1]", "x[-1]", "x[i*i]", "(((((((((", ")))))))))", "1/0", "0^0", "-x0^2");
    static readonly byte[][] TargetTokens = Tokens("\"name\":", "\"expression\":", "\"dimensions\":", "\"parameters\":", "\"stepsPerEpoch\":", "\"evaluationSamples\":",
        "\"funnel\"", "\"banana\"", "\"ring\"", "\"twoMoons\"", "\"gaussianMixture\"", "\"scale\":", "\"components\":", "\"x[i]\"", "\"sum(i=0..9, x[i])\"", "1048577",
        "-1", "0", "2147483648", "1e308", "null", "[]", "{}");
    static readonly byte[][] FlowSpecTokens = Tokens("\"type\":", "\"flowpp\"", "\"realnvp\"", "\"glow\"", "\"maf\"", "\"nsf\"", "\"nice\"", "\"gaussian\"",
        "\"gaussianization\"", "\"auto\"", "\"candidates\":", "\"layers\":", "\"hidden\":", "\"components\":", "\"bins\":", "\"image\":", "[1,8,8]", "[3,4,4]", "[1,16384,16384]",
        "\"levels\":", "\"steps\":", "\"channels\":", "\"blocks\":", "\"pixelRange\":", "\"alpha\":", "\"coupling\":", "\"additive\"", "\"activation\":", "\"elu\"",
        "\"whiten\":true", "\"base\":", "\"covariance\":", "\"full\"", "\"shrinkage\":", "\"scaleClamp\":", "\"contextFeatures\":", "[4096,4096,4096,4096]", "-1",
        "2147483647", "1e39", "NaN", "null");
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
        new("idx", bytes => DatasetParser.Parse(bytes, DatasetFormat.Idx, Limits), [typeof(DatasetValidationException)], IdxTokens),
        new("expression", Expression, [typeof(ExpressionException)], ExpressionTokens),
        new("target", Target, [typeof(JsonException), typeof(TargetSpecException)], TargetTokens),
        new("flow-spec", JobFlow, [typeof(JsonException)], FlowSpecTokens),
    ];

    /// <summary>A reverse-KL target's expression over x0..x2: parsed, compiled, then evaluated with its gradient.</summary>
    static void Expression(byte[] bytes)
    {
        var expression = CompiledExpression.Compile(Encoding.UTF8.GetString(bytes), 3);
        Evaluate(expression);
    }

    /// <summary>What POST /jobs does with "target" (built-in or expression, every field), then what training asks of the density.</summary>
    static void Target(byte[] bytes)
    {
        using var document = JsonDocument.Parse(bytes);
        var spec = TargetSpec.From(document.RootElement);
        if (Engines.Validate(DefaultTargetFlow, spec.Density.Dimensions, 0) is null)
            Evaluate(spec.Density.Expression);
    }

    static void Evaluate(CompiledExpression expression)
    {
        int d = expression.Dimensions, rows = 4;
        var x = d == 3 ? ExpressionRows : new float[rows * d];
        var values = t_values ??= new double[rows];
        var gradient = t_gradient is { Length: var length } existing && length >= rows * d ? existing : t_gradient = new double[rows * d];
        expression.Evaluate(x, rows, values, gradient.AsSpan(0, rows * d));
    }

    /// <summary>
    /// What POST /jobs does with "flow" (every type: Flow++, "auto" with candidates, the multi-scale image flows) for a
    /// tabular dataset, a conditional one and two image datasets: validate, then size it against the training budget.
    /// Validation answers with a 400; anything thrown past it would be a 500.
    /// </summary>
    static void JobFlow(byte[] bytes)
    {
        using var document = JsonDocument.Parse(bytes);
        var flow = document.RootElement;
        Size(flow, 3, 0);
        Size(flow, 3, 2);
        Size(ImageFlowSpec.ForDataset(flow, GreyImages), 64, 0);
        Size(ImageFlowSpec.ForDataset(flow, ColourImages), 48, 0);
    }

    static void Size(JsonElement flow, int features, int context)
    {
        if (Engines.Validate(flow, features, context) is null && Engines.Estimate(flow, features, context) is { } size)
            TrainingBudget.Check(size, 256, Limits);
    }

    /// <summary>What /score does with a JSON body: the target fields, then the rows and context matrices.</summary>
    static void JsonInference(byte[] bytes)
    {
        if (JsonInferenceReader.ReadTarget(bytes, out _, out var matrices) is not null)
            return;
        JsonInferenceReader.ReadMatrix(bytes, matrices.Rows, "rows", Names, 1_000, out _, out _, out _);
        JsonInferenceReader.ReadMatrix(bytes, matrices.Z, "z", Names, 1_000, out _, out _, out _);
        JsonInferenceReader.HasElements(bytes, matrices.Context);
        JsonInferenceReader.ReadMatrix(bytes, matrices.Context, "context", ["c"], 1_000, out _, out _, out _);
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
