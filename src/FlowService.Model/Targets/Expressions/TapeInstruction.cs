namespace FlowService.Model.Targets.Expressions;

internal enum TapeOperation
{
    Constant, Variable, Negate, Add, Subtract, Multiply, Divide,
    /// <summary>a^n for an integer constant n (any sign of a).</summary>
    PowerInteger,
    /// <summary>a^c for a non-integer constant c (a ≥ 0).</summary>
    PowerConstant,
    /// <summary>a^b = exp(b log a) with both operands variable (a > 0).</summary>
    Power,
    Exp, Log, Log1p, Sqrt, Sin, Cos, Tanh, Softplus,
    /// <summary>Σ over <see cref="TapeInstruction.Inputs"/>.</summary>
    Sum,
    /// <summary>log Σ exp over <see cref="TapeInstruction.Inputs"/>, shifted by the maximum.</summary>
    LogSumExp,
}

/// <summary>
/// One operation of a compiled expression in evaluation order (SSA: instruction k writes value k).
/// <see cref="A"/> and <see cref="B"/> are earlier instructions (for <see cref="TapeOperation.Variable"/>, A is the
/// column); <see cref="Constant"/> holds a constant's value or a constant exponent.
/// </summary>
internal readonly record struct TapeInstruction(TapeOperation Operation, int A = -1, int B = -1, double Constant = 0, int[]? Inputs = null);
