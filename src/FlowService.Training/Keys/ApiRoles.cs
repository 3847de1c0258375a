namespace FlowService.Training.Keys;

/// <summary>
/// The four roles, each including the one before it: <c>reader</c> (GETs of datasets, jobs and models), <c>scorer</c>
/// (+ /score, /encode, /decode, /sample), <c>trainer</c> (+ uploading datasets, queueing and cancelling jobs) and
/// <c>admin</c> (everything, including aliases, deletes and keys).
/// </summary>
public static class ApiRoles
{
    public const string Reader = "reader";
    public const string Scorer = "scorer";
    public const string Trainer = "trainer";
    public const string Admin = "admin";

    /// <summary>Lowest to highest.</summary>
    public static readonly IReadOnlyList<string> All = [Reader, Scorer, Trainer, Admin];

    public static bool IsKnown(string? role) => role is not null && All.Contains(role);

    /// <summary>The roles that may do what <paramref name="role"/> may: it and every role above it.</summary>
    public static string[] AtLeast(string role)
    {
        int rank = All.ToList().IndexOf(role);
        if (rank < 0)
            throw new ArgumentOutOfRangeException(nameof(role), role, "Unknown role.");
        return All.Skip(rank).ToArray();
    }
}
