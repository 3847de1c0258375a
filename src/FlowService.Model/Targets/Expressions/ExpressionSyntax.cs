namespace FlowService.Model.Targets.Expressions;

/// <summary>A node of a parsed expression; <see cref="Position"/> and <see cref="Length"/> locate it in the source for errors.</summary>
internal abstract record SyntaxNode(int Position, int Length);

internal sealed record NumberSyntax(double Value, int Position, int Length) : SyntaxNode(Position, Length);

/// <summary>An identifier: x0..x{D-1}, a range's index variable, or the constants pi and e.</summary>
internal sealed record NameSyntax(string Name, int Position, int Length) : SyntaxNode(Position, Length);

/// <summary>x[index], the index an integer-valued expression of range variables.</summary>
internal sealed record IndexedVariableSyntax(SyntaxNode Index, int Position, int Length) : SyntaxNode(Position, Length);

internal sealed record NegateSyntax(SyntaxNode Operand, int Position, int Length) : SyntaxNode(Position, Length);

internal sealed record PowerSyntax(SyntaxNode Base, SyntaxNode Exponent, int Position, int Length) : SyntaxNode(Position, Length);

/// <summary>
/// A left-associative chain a op b op c … of one precedence level ('+'/'-' or '*'/'/'), kept flat so that a
/// long sum is compiled by a loop instead of a recursion as deep as the sum is long.
/// </summary>
internal sealed record ChainSyntax(SyntaxNode First, IReadOnlyList<(char Operator, SyntaxNode Operand)> Rest, int Position, int Length)
    : SyntaxNode(Position, Length);

internal sealed record CallSyntax(string Function, IReadOnlyList<SyntaxNode> Arguments, int Position, int Length) : SyntaxNode(Position, Length);

/// <summary>sum(i=a..b, body) or logsumexp(i=a..b, body): the body once per integer i from a to b inclusive.</summary>
internal sealed record RangeSyntax(string Function, string Variable, SyntaxNode From, SyntaxNode To, SyntaxNode Body, int Position, int Length)
    : SyntaxNode(Position, Length);
