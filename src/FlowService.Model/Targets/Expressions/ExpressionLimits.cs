namespace FlowService.Model.Targets.Expressions;

/// <summary>
/// Bounds on what an expression may cost before anything is evaluated: the source is untrusted text,
/// so its length, nesting, index ranges and the size of the compiled program are all capped.
/// </summary>
public static class ExpressionLimits
{
    public const int MaxSourceLength = 16_384;

    /// <summary>Parenthesis and call nesting, so the recursive-descent parser cannot exhaust the stack.</summary>
    public const int MaxDepth = 64;

    /// <summary>Operations after sums and logsumexps over ranges are unrolled and constants folded.</summary>
    public const int MaxOperations = 50_000;

    /// <summary>Terms of one sum or logsumexp range.</summary>
    public const int MaxRangeLength = 10_000;

    /// <summary>Variables x0..x{D-1}.</summary>
    public const int MaxDimensions = 512;
}
