using System.Text.Json;
using System.Text.Json.Nodes;
using FlowService.Model.Json;
using FlowService.Training.Datasets;

namespace FlowService.Training.Images;

/// <summary>
/// A job on an image dataset: a "realnvp" or "glow" spec without an "image" field gets the dataset's
/// [C, H, W], so the engine builds the multi-scale convolutional flow (defaults scaled to the image
/// size), and, for non-8-bit data, its "pixelRange" is the dataset's maximum rounded up to a power of 2
/// (values must lie in [0, pixelRange)), and "inputNorm" is on unless the spec says otherwise. Other types model the
/// pixels as a flat vector.
/// </summary>
public static class ImageFlowSpec
{
    public static readonly string[] ImageTypes = ["realnvp", "glow"];

    private static readonly JsonElement AutoOnImages = JsonDocument.Parse("""{"type":"realnvp"}""").RootElement.Clone();

    public static JsonElement ForDataset(JsonElement spec, DatasetImage image)
    {
        // A spec with a string that is not text is left as sent: validation names the field (FlowEngineCatalog.Validate).
        if (JsonText.FindUnreadable(spec, "flow") is not null)
            return spec;
        // The default ("auto") searches tabular candidates; on images it means the multi-scale RealNVP with image defaults.
        if (spec.ValueKind == JsonValueKind.Object && spec.TryGetProperty("type", out var requested) && requested.ValueKind == JsonValueKind.String
            && requested.GetString()!.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase) && !spec.EnumerateObject().Skip(1).Any())
            spec = AutoOnImages;
        if (spec.ValueKind != JsonValueKind.Object || !spec.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String
            || !ImageTypes.Contains(type.GetString()!.Trim().ToLowerInvariant()) || spec.TryGetProperty("image", out _))
            return spec;
        var node = JsonNode.Parse(spec.GetRawText())!.AsObject();
        node["image"] = new JsonArray(image.Channels, image.Height, image.Width);
        // New image jobs start every pixel at unit scale (a data-initialised per-value ActNorm after the logit): without
        // it a RealNVP spends its first hundreds of steps learning the background's scale (bench/RESULTS.md, issue 13).
        if (!node.ContainsKey("inputNorm"))
            node["inputNorm"] = true;
        if (!image.Discrete && !node.ContainsKey("pixelRange"))
            node["pixelRange"] = PixelRange(image.Max);
        return JsonDocument.Parse(node.ToJsonString()).RootElement.Clone();
    }

    /// <summary>Dequantized 8-bit pixels lie in [0, 256); other data in [0, 2^k) for the smallest k that holds its maximum (1 for [0, 1) data).</summary>
    public static double PixelRange(double max)
    {
        double range = 1;
        while (range <= max)
            range *= 2;
        return range;
    }

    /// <summary>True when every value is an integer in [0, 255]: 8-bit pixels, which training dequantizes.</summary>
    public static bool IsDiscrete(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
            if (v != MathF.Floor(v) || v is < 0 or > 255)
                return false;
        return true;
    }
}
