using System.Text.Json;
using FlowService.Training.Registry;

namespace FlowService.Api.Payloads;

/// <summary>
/// The image shape of a model version whose flow spec has an "image" field [C, H, W] (rows are C·H·W pixels,
/// channels first), and its pixel range (the spec's "pixelRange", 256 when absent): what the image-aware
/// payloads (nested JSON rows, uint8 .npy and PNG samples) need to know about the model.
/// </summary>
public sealed record ImageModelShape(int Channels, int Height, int Width, double PixelRange)
{
    /// <summary>The shape when <paramref name="version"/> is an image model, else null.</summary>
    public static ImageModelShape? Of(ModelVersion version)
    {
        var flow = version.Flow;
        if (flow.ValueKind != JsonValueKind.Object || !flow.TryGetProperty("image", out var image)
            || image.ValueKind != JsonValueKind.Array || image.GetArrayLength() != 3)
            return null;
        double range = flow.TryGetProperty("pixelRange", out var r) && r.ValueKind == JsonValueKind.Number ? r.GetDouble() : 256;
        return new ImageModelShape(image[0].GetInt32(), image[1].GetInt32(), image[2].GetInt32(), range);
    }

    /// <summary>The nesting a JSON row of one image may have: [H][W] for one channel, and always [C][H][W].</summary>
    public int[] NestedDimensions(int depth) => depth switch
    {
        2 when Channels == 1 => [Height, Width],
        3 => [Channels, Height, Width],
        _ => [],
    };

    /// <summary>A sampled value as an 8-bit pixel: floor(x · 256 / pixelRange) clamped to 0..255.</summary>
    public byte ToByte(float x) => (byte)Math.Clamp(Math.Floor(x * 256 / PixelRange), 0, 255);
}
