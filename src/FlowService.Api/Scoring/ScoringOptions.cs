namespace FlowService.Api.Scoring;

/// <summary>Inference settings, bound from <c>FlowService:Scoring</c>.</summary>
public sealed class ScoringOptions
{
    public const string Section = "FlowService:Scoring";

    /// <summary>Most model versions kept loaded; the least recently used one is dropped beyond it.</summary>
    public int ModelCacheSize { get; set; } = 8;

    /// <summary>Samples drawn per chunk when GET /sample streams a large n.</summary>
    public int SampleChunkRows { get; set; } = 4096;
}
