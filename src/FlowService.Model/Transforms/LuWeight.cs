using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// The D x D matrix W = P · L · (U + diag(exp(logScale))) of an LU-parameterised linear map (<see cref="LuLinear"/>,
/// <see cref="Images.InvertibleConv1x1"/>), or its inverse, in the context's workspace. Training composes it on every call
/// (the parameters move, and the backward pass reads the forward's W). A flow frozen for serving composes it once per
/// context: its parameters cannot change, and on a lone table row composing W (D³ operations) cost a third of the whole
/// density, more than applying it.
/// </summary>
internal static class LuWeight
{
    /// <summary>W, under the workspace name "weight" (which the backward pass reads).</summary>
    public static Tensor Composed(FlowContext context, object owner, ParameterSlot lower, ParameterSlot upper, ParameterSlot logScale, int[] permutation) =>
        Matrix(context, owner, "weight", new Factors(context, lower, upper, logScale, permutation), static (f, weight) => f.Compose(weight));

    /// <summary>W⁻¹.</summary>
    public static Tensor Inverse(FlowContext context, object owner, ParameterSlot lower, ParameterSlot upper, ParameterSlot logScale, int[] permutation) =>
        Matrix(context, owner, "inverse", new Factors(context, lower, upper, logScale, permutation), static (f, inverse) => f.Invert(inverse));

    /// <summary>The D x D workspace buffer <paramref name="name"/>, filled by <paramref name="fill"/>: once for a frozen flow,
    /// on every call otherwise.</summary>
    private static Tensor Matrix(FlowContext context, object owner, string name, Factors factors, Action<Factors, Tensor> fill)
    {
        int n = factors.Permutation.Length;
        if (context.Frozen)
            return context.Workspace.GetDerived(owner, name, n, n, factors, fill);
        var matrix = context.Workspace.Get(owner, name, n, n);
        fill(factors, matrix);
        return matrix;
    }

    private readonly record struct Factors(FlowContext Context, ParameterSlot Lower, ParameterSlot Upper, ParameterSlot LogScale, int[] Permutation)
    {
        public void Compose(Tensor weight) =>
            Context.Backend.LuCompose(Context.Param(Lower), Context.Param(Upper), Context.Param(LogScale), Permutation, weight);

        public void Invert(Tensor inverse) =>
            Context.Backend.LuInverse(Context.Param(Lower), Context.Param(Upper), Context.Param(LogScale), Permutation, inverse);
    }
}
