namespace FlowService.Model.Targets.Expressions;

/// <summary>
/// Recursive-descent parser of the log-density language. Precedence, loosest first: '+' '-', then '*' '/',
/// then unary '-', then '^' (right-associative, so -x^2 = -(x^2) and 2^-1 = 0.5), then numbers, names,
/// x[index], calls and parentheses. Nesting is bounded by <see cref="ExpressionLimits.MaxDepth"/>.
/// </summary>
internal sealed class ExpressionParser
{
    private readonly List<Token> _tokens;
    private int _next;
    private int _depth;

    private ExpressionParser(List<Token> tokens) => _tokens = tokens;

    public static SyntaxNode Parse(string source)
    {
        if (string.IsNullOrWhiteSpace(source))
            throw new ExpressionException("The expression is empty.", 0, 0);
        if (source.Length > ExpressionLimits.MaxSourceLength)
            throw new ExpressionException($"The expression has {source.Length} characters; at most {ExpressionLimits.MaxSourceLength} are allowed.", ExpressionLimits.MaxSourceLength, 0);
        var parser = new ExpressionParser(ExpressionLexer.Tokenize(source));
        var root = parser.Expression();
        var end = parser.Peek;
        if (end.Kind != TokenKind.End)
            throw Unexpected(end, "an operator or the end of the expression");
        return root;
    }

    private Token Peek => _tokens[_next];

    private Token Take() => _tokens[_next++];

    private Token Expect(TokenKind kind, string what)
    {
        var token = Peek;
        if (token.Kind != kind)
            throw Unexpected(token, what);
        return Take();
    }

    private static ExpressionException Unexpected(Token token, string expected) => token.Kind == TokenKind.End
        ? new ExpressionException($"The expression ends at position {token.Position} where {expected} was expected.", token.Position, 0)
        : new ExpressionException($"Unexpected '{token.Text}' at position {token.Position}; expected {expected}.", token.Position, token.Text.Length);

    private SyntaxNode Expression()
    {
        if (++_depth > ExpressionLimits.MaxDepth)
            throw new ExpressionException($"The expression nests deeper than {ExpressionLimits.MaxDepth} levels at position {Peek.Position}.", Peek.Position, Peek.Text.Length);
        var result = Chain(Term, TokenKind.Plus, TokenKind.Minus);
        _depth--;
        return result;
    }

    private SyntaxNode Term() => Chain(Unary, TokenKind.Star, TokenKind.Slash);

    private SyntaxNode Chain(Func<SyntaxNode> operand, TokenKind first, TokenKind second)
    {
        var head = operand();
        List<(char, SyntaxNode)>? rest = null;
        while (Peek.Kind == first || Peek.Kind == second)
        {
            char op = Take().Text[0];
            (rest ??= []).Add((op, operand()));
        }
        if (rest is null)
            return head;
        var last = rest[^1].Item2;
        return new ChainSyntax(head, rest, head.Position, last.Position + last.Length - head.Position);
    }

    private SyntaxNode Unary()
    {
        if (Peek.Kind is TokenKind.Minus or TokenKind.Plus)
        {
            var sign = Take();
            if (++_depth > ExpressionLimits.MaxDepth)
                throw new ExpressionException($"The expression nests deeper than {ExpressionLimits.MaxDepth} levels at position {sign.Position}.", sign.Position, 1);
            var operand = Unary();
            _depth--;
            return sign.Kind == TokenKind.Plus ? operand : new NegateSyntax(operand, sign.Position, operand.Position + operand.Length - sign.Position);
        }
        return Power();
    }

    private SyntaxNode Power()
    {
        var baseNode = Primary();
        if (Peek.Kind != TokenKind.Caret)
            return baseNode;
        Take();
        var exponent = Unary();
        return new PowerSyntax(baseNode, exponent, baseNode.Position, exponent.Position + exponent.Length - baseNode.Position);
    }

    private SyntaxNode Primary()
    {
        var token = Peek;
        switch (token.Kind)
        {
            case TokenKind.Number:
                Take();
                return new NumberSyntax(token.Value, token.Position, token.Text.Length);
            case TokenKind.LeftParen:
            {
                Take();
                var inner = Expression();
                var close = Expect(TokenKind.RightParen, "')'");
                return inner with { Position = token.Position, Length = close.Position + 1 - token.Position };
            }
            case TokenKind.Identifier:
                Take();
                if (token.Text == "x" && Peek.Kind == TokenKind.LeftBracket)
                {
                    Take();
                    var index = Expression();
                    var close = Expect(TokenKind.RightBracket, "']'");
                    return new IndexedVariableSyntax(index, token.Position, close.Position + 1 - token.Position);
                }
                if (Peek.Kind == TokenKind.LeftParen)
                    return Call(token);
                return new NameSyntax(token.Text, token.Position, token.Text.Length);
            default:
                throw Unexpected(token, "a number, a variable, a function call or '('");
        }
    }

    private SyntaxNode Call(Token name)
    {
        Take(); // '('
        if (++_depth > ExpressionLimits.MaxDepth)
            throw new ExpressionException($"The expression nests deeper than {ExpressionLimits.MaxDepth} levels at position {name.Position}.", name.Position, name.Text.Length);
        try
        {
            if (Peek.Kind == TokenKind.Identifier && _tokens[_next + 1].Kind == TokenKind.Equals)
            {
                var variable = Take();
                Take(); // '='
                var from = Expression();
                Expect(TokenKind.Range, "'..' (a range is written i=a..b)");
                var to = Expression();
                Expect(TokenKind.Comma, "',' and the term of the range");
                var body = Expression();
                var close = Expect(TokenKind.RightParen, "')'");
                return new RangeSyntax(name.Text, variable.Text, from, to, body, name.Position, close.Position + 1 - name.Position);
            }
            var arguments = new List<SyntaxNode>();
            if (Peek.Kind != TokenKind.RightParen)
            {
                arguments.Add(Expression());
                while (Peek.Kind == TokenKind.Comma)
                {
                    Take();
                    arguments.Add(Expression());
                }
            }
            var end = Expect(TokenKind.RightParen, "',' or ')'");
            return new CallSyntax(name.Text, arguments, name.Position, end.Position + 1 - name.Position);
        }
        finally
        {
            _depth--;
        }
    }
}
