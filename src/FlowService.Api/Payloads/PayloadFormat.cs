namespace FlowService.Api.Payloads;

/// <summary>The body formats of /score, /encode and /decode, and the response formats of /encode, /decode and /sample.</summary>
public enum PayloadFormat
{
    Json,
    Csv,
    Npy,
}
