using System.Globalization;
using FlowService.Model.Checkpoints;
using FlowService.Model.Flows;
using FlowService.Training.Optimization;
using FlowService.Training.Storage;

namespace FlowService.Training.Engine;

/// <summary>
/// Everything a training run needs to continue exactly where it stopped, written atomically after
/// every epoch: weights, both AdamW moments and the step count, the best weights so far and the
/// early-stopping counters. Stored as one safetensors file (tensors + string metadata), tagged
/// with a fingerprint of the spec, data shape and seed so that a state left by another run is
/// never resumed into this one.
/// </summary>
public sealed record TrainingState(
    string Fingerprint,
    int Epoch,
    int Step,
    int BestEpoch,
    int BadEpochs,
    double BestValidationNll,
    float[] Parameters,
    float[] FirstMoment,
    float[] SecondMoment,
    float[] BestParameters)
{
    public const string FileName = "training-state.safetensors";

    /// <summary>
    /// The state of a run now: the flow's weights and the optimizer's moments (the layout's parameters only; the
    /// arena may carry padding) with the early-stopping counters and the best weights so far.
    /// </summary>
    public static TrainingState Capture(NormalizingFlow flow, AdamW optimizer, string fingerprint, int epoch, int bestEpoch, int badEpochs,
        double bestValidationNll, float[] bestParameters)
    {
        int count = flow.Layout.Length;
        var first = new float[optimizer.FirstMoment.Length];
        var second = new float[optimizer.SecondMoment.Length];
        flow.Backend.Download(optimizer.FirstMoment, first);
        flow.Backend.Download(optimizer.SecondMoment, second);
        return new TrainingState(fingerprint, epoch, optimizer.Step, bestEpoch, badEpochs, bestValidationNll,
            flow.GetParameters(), first[..count], second[..count], bestParameters);
    }

    /// <summary>Puts the saved weights into the flow and the saved moments and step into the optimizer.</summary>
    public void RestoreInto(NormalizingFlow flow, AdamW optimizer)
    {
        flow.SetParameters(Parameters);
        optimizer.Restore(Step, Padded(FirstMoment), Padded(SecondMoment));

        float[] Padded(float[] values)
        {
            var padded = new float[flow.Parameters.Length];
            values.CopyTo(padded, 0);
            return padded;
        }
    }

    public void Save(string folder)
    {
        var metadata = new Dictionary<string, string>
        {
            ["fingerprint"] = Fingerprint,
            ["epoch"] = Epoch.ToString(CultureInfo.InvariantCulture),
            ["step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["bestEpoch"] = BestEpoch.ToString(CultureInfo.InvariantCulture),
            ["badEpochs"] = BadEpochs.ToString(CultureInfo.InvariantCulture),
            ["bestValidationNll"] = BestValidationNll.ToString("R", CultureInfo.InvariantCulture),
        };
        var file = new SafeTensorsFile(
        [
            new SafeTensor("parameters", [Parameters.Length], Parameters),
            new SafeTensor("adam.firstMoment", [FirstMoment.Length], FirstMoment),
            new SafeTensor("adam.secondMoment", [SecondMoment.Length], SecondMoment),
            new SafeTensor("best", [BestParameters.Length], BestParameters),
        ], metadata);
        byte[] bytes = SafeTensorsWriter.ToBytes(file);
        AtomicFile.Write(Path.Combine(folder, FileName), stream => stream.Write(bytes));
    }

    /// <summary>
    /// The state saved in <paramref name="folder"/> for a run with this <paramref name="fingerprint"/>
    /// and <paramref name="parameterCount"/>, or null when there is none, it belongs to another run,
    /// or it cannot be read (a torn or foreign file is never resumed: the run starts over).
    /// </summary>
    public static TrainingState? TryLoad(string folder, string fingerprint, int parameterCount)
    {
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
            return null;
        try
        {
            var file = SafeTensorsReader.Read(path);
            var m = file.Metadata;
            if (!m.TryGetValue("fingerprint", out var saved) || saved != fingerprint)
                return null;
            var state = new TrainingState(saved,
                int.Parse(m["epoch"], CultureInfo.InvariantCulture), int.Parse(m["step"], CultureInfo.InvariantCulture),
                int.Parse(m["bestEpoch"], CultureInfo.InvariantCulture), int.Parse(m["badEpochs"], CultureInfo.InvariantCulture),
                double.Parse(m["bestValidationNll"], CultureInfo.InvariantCulture),
                file["parameters"].Values, file["adam.firstMoment"].Values, file["adam.secondMoment"].Values, file["best"].Values);
            bool shaped = state.Parameters.Length == parameterCount && state.FirstMoment.Length == parameterCount
                && state.SecondMoment.Length == parameterCount && state.BestParameters.Length == parameterCount;
            return shaped ? state : null;
        }
        catch (Exception e) when (e is SafeTensorsFormatException or KeyNotFoundException or FormatException or IOException)
        {
            return null;
        }
    }
}
