namespace FlowService.Api.Observability;

/// <summary>What an inference call computed; the "operation" label of the inference families.</summary>
public enum InferenceOperation
{
    Score,
    Encode,
    Decode,
    Sample,
}
