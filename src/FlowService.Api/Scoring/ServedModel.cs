using FlowService.Api.Observability;
using FlowService.Training.Engine;
using FlowService.Training.Registry;

namespace FlowService.Api.Scoring;

/// <summary>
/// A loaded model version as the service serves it: its registry record, the flow, and one dynamic batcher per
/// batched operation. Held by the model cache; evicting it stops the batchers (and disposes a disposable flow).
/// </summary>
public sealed class ServedModel : IDisposable
{
    public ServedModel(ModelVersion version, IDensityFlow flow, ScoringOptions options, InferenceMetrics metrics)
    {
        Version = version;
        Flow = flow;
        string name = $"{version.Model} v{version.Version}";
        Score = new DynamicBatcher(BatchOperation.Score(flow), options, metrics, $"{name} score");
        Encode = new DynamicBatcher(BatchOperation.Encode(flow), options, metrics, $"{name} encode");
        Decode = new DynamicBatcher(BatchOperation.Decode(flow), options, metrics, $"{name} decode");
    }

    public ModelVersion Version { get; }

    public IDensityFlow Flow { get; }

    public DynamicBatcher Score { get; }

    public DynamicBatcher Encode { get; }

    public DynamicBatcher Decode { get; }

    public void Dispose()
    {
        Score.Dispose();
        Encode.Dispose();
        Decode.Dispose();
        (Flow as IDisposable)?.Dispose();
    }
}
