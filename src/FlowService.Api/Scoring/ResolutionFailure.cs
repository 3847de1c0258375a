namespace FlowService.Api.Scoring;

/// <summary>
/// Why <see cref="ScoringService.ResolveAsync"/> found no model to serve: the request named none or named it two ways
/// (<see cref="Invalid"/> is true), the model, alias or version does not exist, or the version exists but cannot be
/// served (<see cref="Unavailable"/>: over the size budget, or its checkpoint failed verification). <see cref="Field"/>
/// is the request field at fault; the endpoints turn this into a 400, 404 or 409 problem.
/// </summary>
public sealed record ResolutionFailure(bool Invalid, string Field, string Message, bool Unavailable = false)
{
    public static ResolutionFailure BadRequest(string field, string message) => new(true, field, message);

    public static ResolutionFailure Missing(string field, string message) => new(false, field, message);

    public static ResolutionFailure NotServable(string message) => new(false, "model", message, Unavailable: true);
}
