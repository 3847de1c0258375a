using System.Globalization;

namespace FlowService.Model.Targets.Expressions;

internal enum TokenKind { Number, Identifier, Plus, Minus, Star, Slash, Caret, LeftParen, RightParen, LeftBracket, RightBracket, Comma, Equals, Range, End }

internal readonly record struct Token(TokenKind Kind, string Text, int Position, double Value = 0);

/// <summary>Splits an expression into tokens; every token keeps its character offset for error messages.</summary>
internal static class ExpressionLexer
{
    public static List<Token> Tokenize(string source)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (i < source.Length)
        {
            char c = source[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }
            int start = i;
            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < source.Length && char.IsAsciiDigit(source[i + 1])))
            {
                while (i < source.Length && char.IsAsciiDigit(source[i]))
                    i++;
                // "0..9" is a range, not the number "0." followed by ".9".
                if (i < source.Length && source[i] == '.' && !(i + 1 < source.Length && source[i + 1] == '.'))
                {
                    i++;
                    while (i < source.Length && char.IsAsciiDigit(source[i]))
                        i++;
                }
                if (i < source.Length && (source[i] == 'e' || source[i] == 'E'))
                {
                    int exponent = i + 1;
                    if (exponent < source.Length && (source[exponent] == '+' || source[exponent] == '-'))
                        exponent++;
                    if (exponent < source.Length && char.IsAsciiDigit(source[exponent]))
                    {
                        i = exponent;
                        while (i < source.Length && char.IsAsciiDigit(source[i]))
                            i++;
                    }
                }
                string text = source[start..i];
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                    throw new ExpressionException($"'{text}' is not a finite number.", start, text.Length);
                tokens.Add(new Token(TokenKind.Number, text, start, value));
                continue;
            }
            if (char.IsAsciiLetter(c) || c == '_')
            {
                while (i < source.Length && (char.IsAsciiLetterOrDigit(source[i]) || source[i] == '_'))
                    i++;
                tokens.Add(new Token(TokenKind.Identifier, source[start..i], start));
                continue;
            }
            if (c == '.' && i + 1 < source.Length && source[i + 1] == '.')
            {
                tokens.Add(new Token(TokenKind.Range, "..", start));
                i += 2;
                continue;
            }
            TokenKind? kind = c switch
            {
                '+' => TokenKind.Plus,
                '-' => TokenKind.Minus,
                '*' => TokenKind.Star,
                '/' => TokenKind.Slash,
                '^' => TokenKind.Caret,
                '(' => TokenKind.LeftParen,
                ')' => TokenKind.RightParen,
                '[' => TokenKind.LeftBracket,
                ']' => TokenKind.RightBracket,
                ',' => TokenKind.Comma,
                '=' => TokenKind.Equals,
                _ => null,
            };
            if (kind is null)
                throw new ExpressionException($"Unexpected character '{c}' at position {start}; expressions use numbers, x0..x{{D-1}} or x[i], + - * / ^, parentheses and functions.", start, 1);
            tokens.Add(new Token(kind.Value, c.ToString(), start));
            i++;
        }
        tokens.Add(new Token(TokenKind.End, "", source.Length));
        return tokens;
    }
}
