namespace FlowService.Api.Scoring;

/// <summary>
/// Why <see cref="ScoringService.ResolveAsync"/> found no model to serve: the request named none or named it two ways
/// (<see cref="Invalid"/> is true), or the model, alias or version does not exist. <see cref="Field"/> is the request
/// field at fault; the endpoints turn this into a 400 or 404 problem.
/// </summary>
public sealed record ResolutionFailure(bool Invalid, string Field, string Message)
{
    public static ResolutionFailure BadRequest(string field, string message) => new(true, field, message);

    public static ResolutionFailure Missing(string field, string message) => new(false, field, message);
}
