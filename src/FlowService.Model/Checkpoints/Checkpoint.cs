using System.Text.Json;
using FlowService.Model.Parameters;

namespace FlowService.Model.Checkpoints;

/// <summary>
/// A model checkpoint: a directory holding <c>model.safetensors</c> (the parameters by their layout
/// names, see <see cref="ParameterTensors"/>), <c>model.json</c> (<see cref="CheckpointInfo"/>,
/// which records the weights' sha256) and <c>SHA256SUMS</c> over both. Saving is atomic
/// (<see cref="ChecksummedDirectory"/>); loading verifies every checksum, so an edited or
/// truncated file is reported, never loaded.
/// </summary>
public sealed class Checkpoint
{
    public const string WeightsFileName = "model.safetensors";
    public const string InfoFileName = "model.json";

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private Checkpoint(CheckpointInfo info, SafeTensorsFile weights)
    {
        Info = info;
        Weights = weights;
    }

    public CheckpointInfo Info { get; }

    public SafeTensorsFile Weights { get; }

    /// <summary>The parameter arena for <paramref name="layout"/> of the tensors named <paramref name="prefix"/> + slot name
    /// (every name and shape must match).</summary>
    public float[] Parameters(ParameterLayout layout, string prefix = "") => ParameterTensors.ToArena(layout, Weights, prefix);

    public static void Save(string directory, ParameterLayout layout, ReadOnlySpan<float> parameters, CheckpointInfo info) =>
        Save(directory, ParameterTensors.FromArena(layout, parameters).ToArray(), info);

    /// <summary>Saves named tensors, e.g. several parameter arenas under their own prefixes (<see cref="ParameterTensors.FromArena"/>).</summary>
    public static void Save(string directory, IReadOnlyList<SafeTensor> tensors, CheckpointInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        var weights = new SafeTensorsFile(tensors,
            new Dictionary<string, string> { ["format"] = "pt", ["flowservice.formatVersion"] = info.FormatVersion.ToString() });
        byte[] weightBytes = SafeTensorsWriter.ToBytes(weights);
        info.WeightsSha256 = ChecksummedDirectory.Sha256(weightBytes);
        byte[] infoBytes = JsonSerializer.SerializeToUtf8Bytes(info, JsonOptions);
        ChecksummedDirectory.Write(directory, new Dictionary<string, byte[]>
        {
            [WeightsFileName] = weightBytes,
            [InfoFileName] = infoBytes,
        });
    }

    public static Checkpoint Load(string directory)
    {
        var files = ChecksummedDirectory.Read(directory);
        if (!files.TryGetValue(WeightsFileName, out var weightBytes) || !files.TryGetValue(InfoFileName, out var infoBytes))
            throw new CheckpointCorruptException($"Checkpoint {directory}: its manifest does not list both {WeightsFileName} and {InfoFileName}.");
        CheckpointInfo info;
        try
        {
            info = JsonSerializer.Deserialize<CheckpointInfo>(infoBytes)
                ?? throw new CheckpointCorruptException($"Checkpoint {directory}: {InfoFileName} is null.");
        }
        catch (JsonException e)
        {
            throw new CheckpointCorruptException($"Checkpoint {directory}: {InfoFileName} is not valid JSON ({e.Message}).", e);
        }
        if (info.FormatVersion > CheckpointInfo.CurrentFormatVersion)
            throw new CheckpointCorruptException($"Checkpoint {directory}: format version {info.FormatVersion} is newer than this build reads ({CheckpointInfo.CurrentFormatVersion}).");
        if (info.WeightsSha256 != ChecksummedDirectory.Sha256(weightBytes))
            throw new CheckpointCorruptException($"Checkpoint {directory}: {WeightsFileName} does not match the sha256 recorded in {InfoFileName}.");
        try
        {
            return new Checkpoint(info, SafeTensorsReader.Read(weightBytes, Path.Combine(directory, WeightsFileName)));
        }
        catch (SafeTensorsFormatException e)
        {
            throw new CheckpointCorruptException(e.Message, e);
        }
    }
}
