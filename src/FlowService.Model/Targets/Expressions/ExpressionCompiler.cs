namespace FlowService.Model.Targets.Expressions;

/// <summary>
/// Turns a syntax tree into a tape: ranges unrolled with their index bound, x[index] resolved to a column,
/// and every operation whose operands are all constants folded into a constant. Name, arity, index and size
/// errors point at the offending node.
/// </summary>
internal sealed class ExpressionCompiler
{
    private static readonly string[] UnaryFunctions = ["exp", "log", "log1p", "sqrt", "sin", "cos", "tanh", "softplus"];

    private readonly int _dimensions;
    private readonly List<TapeInstruction> _tape = [];
    private readonly Dictionary<string, int> _bindings = new(StringComparer.Ordinal);
    private readonly HashSet<int> _usedColumns = [];

    private ExpressionCompiler(int dimensions) => _dimensions = dimensions;

    public static (TapeInstruction[] Tape, int UsedColumns) Compile(SyntaxNode root, int dimensions)
    {
        var compiler = new ExpressionCompiler(dimensions);
        int result = compiler.Emit(root);
        return (Reachable(compiler._tape, result), compiler._usedColumns.Count);
    }

    /// <summary>The instructions the result depends on, renumbered in order (folding leaves dead constants behind); the result is last.</summary>
    private static TapeInstruction[] Reachable(List<TapeInstruction> tape, int result)
    {
        var live = new bool[tape.Count];
        live[result] = true;
        for (int k = result; k >= 0; k--)
        {
            if (!live[k])
                continue;
            var instruction = tape[k];
            if (instruction.Operation == TapeOperation.Variable)
                continue;
            if (instruction.A >= 0) live[instruction.A] = true;
            if (instruction.B >= 0) live[instruction.B] = true;
            foreach (int input in instruction.Inputs ?? [])
                live[input] = true;
        }
        var renumbered = new int[tape.Count];
        var kept = new List<TapeInstruction>();
        for (int k = 0; k <= result; k++)
        {
            if (!live[k])
                continue;
            var instruction = tape[k];
            int Map(int i) => i < 0 ? i : renumbered[i];
            kept.Add(instruction.Operation == TapeOperation.Variable ? instruction
                : instruction with { A = Map(instruction.A), B = Map(instruction.B), Inputs = instruction.Inputs?.Select(Map).ToArray() });
            renumbered[k] = kept.Count - 1;
        }
        return kept.ToArray();
    }

    private int Emit(SyntaxNode node)
    {
        switch (node)
        {
            case NumberSyntax number:
                return Constant(number.Value);
            case NameSyntax name:
                return Name(name);
            case IndexedVariableSyntax indexed:
                return Variable(ConstantInteger(indexed.Index, "an index of x[...]"), indexed);
            case NegateSyntax negate:
                return Unary(TapeOperation.Negate, Emit(negate.Operand), node);
            case PowerSyntax power:
                return Power(power);
            case ChainSyntax chain:
            {
                int value = Emit(chain.First);
                foreach (var (op, operand) in chain.Rest)
                {
                    var operation = op switch { '+' => TapeOperation.Add, '-' => TapeOperation.Subtract, '*' => TapeOperation.Multiply, _ => TapeOperation.Divide };
                    value = Binary(operation, value, Emit(operand), operand);
                }
                return value;
            }
            case CallSyntax call:
                return Call(call);
            case RangeSyntax range:
                return Range(range);
            default:
                throw new ExpressionException("Unsupported syntax.", node.Position, node.Length);
        }
    }

    private int Name(NameSyntax name)
    {
        if (_bindings.TryGetValue(name.Name, out int bound))
            return Constant(bound);
        if (name.Name == "pi")
            return Constant(Math.PI);
        if (name.Name == "e")
            return Constant(Math.E);
        if (name.Name.Length > 1 && name.Name[0] == 'x' && name.Name.Skip(1).All(char.IsAsciiDigit))
        {
            if (name.Name.Length > 7 || (name.Name.Length > 2 && name.Name[1] == '0'))
                throw new ExpressionException($"'{name.Name}' at position {name.Position} is not a variable: write x0..x{_dimensions - 1}.", name.Position, name.Length);
            return Variable(int.Parse(name.Name.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture), name);
        }
        if (name.Name == "x")
            throw new ExpressionException($"'x' at position {name.Position} needs an index: x0, x1, ... or x[i].", name.Position, name.Length);
        throw new ExpressionException($"Unknown name '{name.Name}' at position {name.Position}; variables are x0..x{_dimensions - 1} (or x[i] inside a range), constants pi and e.", name.Position, name.Length);
    }

    private int Variable(int column, SyntaxNode node)
    {
        if (column < 0 || column >= _dimensions)
            throw new ExpressionException($"x{column} at position {node.Position} is out of range: the target has {_dimensions} dimensions (x0..x{_dimensions - 1}).", node.Position, node.Length);
        _usedColumns.Add(column);
        return Add(new TapeInstruction(TapeOperation.Variable, A: column));
    }

    private int Power(PowerSyntax power)
    {
        int baseValue = Emit(power.Base);
        int exponent = Emit(power.Exponent);
        if (!IsConstant(exponent))
            return Binary(TapeOperation.Power, baseValue, exponent, power);
        double c = _tape[exponent].Constant;
        _tape.RemoveAt(_tape.Count - 1); // the exponent's constant lives in the instruction
        bool integer = c == Math.Round(c) && Math.Abs(c) <= 1024;
        var operation = integer ? TapeOperation.PowerInteger : TapeOperation.PowerConstant;
        if (IsConstant(baseValue))
            return Fold(new TapeInstruction(operation, baseValue, Constant: c), power);
        return Add(new TapeInstruction(operation, baseValue, Constant: c));
    }

    private int Call(CallSyntax call)
    {
        string function = call.Function;
        if (UnaryFunctions.Contains(function))
        {
            if (call.Arguments.Count != 1)
                throw new ExpressionException($"{function}() at position {call.Position} takes one argument, not {call.Arguments.Count}.", call.Position, call.Length);
            var operation = function switch
            {
                "exp" => TapeOperation.Exp, "log" => TapeOperation.Log, "log1p" => TapeOperation.Log1p, "sqrt" => TapeOperation.Sqrt,
                "sin" => TapeOperation.Sin, "cos" => TapeOperation.Cos, "tanh" => TapeOperation.Tanh, _ => TapeOperation.Softplus,
            };
            return Unary(operation, Emit(call.Arguments[0]), call);
        }
        if (function is "sum" or "logsumexp")
        {
            if (call.Arguments.Count == 0)
                throw new ExpressionException($"{function}() at position {call.Position} needs at least one term: {function}(a, b, ...) or {function}(i=0..9, term).", call.Position, call.Length);
            return Reduction(function, call.Arguments.Select(Emit).ToArray(), call);
        }
        throw new ExpressionException(
            $"Unknown function '{function}' at position {call.Position}; known: {string.Join(", ", UnaryFunctions)}, sum, logsumexp.", call.Position, function.Length);
    }

    private int Range(RangeSyntax range)
    {
        if (range.Function is not ("sum" or "logsumexp"))
            throw new ExpressionException($"Only sum and logsumexp take a range (i=a..b); '{range.Function}' at position {range.Position} does not.", range.Position, range.Function.Length);
        if (range.Variable == "x" || range.Variable is "pi" or "e" || _bindings.ContainsKey(range.Variable) || IsVariableName(range.Variable))
            throw new ExpressionException($"'{range.Variable}' at position {range.Position} cannot name a range's index (it is taken).", range.Position, range.Length);
        int from = ConstantInteger(range.From, "a range's start");
        int to = ConstantInteger(range.To, "a range's end");
        if (to < from)
            throw new ExpressionException($"The range {range.Variable}={from}..{to} at position {range.From.Position} is empty (ranges include both ends and must not run backwards).", range.From.Position, range.To.Position + range.To.Length - range.From.Position);
        if ((long)to - from + 1 > ExpressionLimits.MaxRangeLength)
            throw new ExpressionException($"The range {range.Variable}={from}..{to} has more than {ExpressionLimits.MaxRangeLength} terms.", range.From.Position, range.To.Position + range.To.Length - range.From.Position);
        var terms = new int[to - from + 1];
        for (int i = from; i <= to; i++)
        {
            _bindings[range.Variable] = i;
            terms[i - from] = Emit(range.Body);
        }
        _bindings.Remove(range.Variable);
        return Reduction(range.Function, terms, range);
    }

    private int Reduction(string function, int[] terms, SyntaxNode node)
    {
        if (terms.Length == 1)
            return terms[0];
        var instruction = new TapeInstruction(function == "sum" ? TapeOperation.Sum : TapeOperation.LogSumExp, Inputs: terms);
        return terms.All(IsConstant) ? Fold(instruction, node) : Add(instruction);
    }

    /// <summary>Compiles an index or range bound, which must fold to an integer (numbers and range variables only), and leaves no trace on the tape.</summary>
    private int ConstantInteger(SyntaxNode node, string what)
    {
        int mark = _tape.Count;
        int value = Emit(node);
        if (!IsConstant(value))
            throw new ExpressionException($"{char.ToUpperInvariant(what[0])}{what[1..]} at position {node.Position} must be a constant integer (numbers and range indices only).", node.Position, node.Length);
        double constant = _tape[value].Constant;
        _tape.RemoveRange(mark, _tape.Count - mark);
        if (constant != Math.Round(constant) || Math.Abs(constant) > int.MaxValue / 2)
            throw new ExpressionException($"{char.ToUpperInvariant(what[0])}{what[1..]} at position {node.Position} must be an integer, not {constant}.", node.Position, node.Length);
        return (int)constant;
    }

    private int Unary(TapeOperation operation, int a, SyntaxNode node) =>
        IsConstant(a) ? Fold(new TapeInstruction(operation, a), node) : Add(new TapeInstruction(operation, a));

    private int Binary(TapeOperation operation, int a, int b, SyntaxNode node) =>
        IsConstant(a) && IsConstant(b) ? Fold(new TapeInstruction(operation, a, b), node) : Add(new TapeInstruction(operation, a, b));

    /// <summary>Evaluates an instruction whose operands are all constants now, into one constant (the operands stay behind as dead code, dropped at the end).</summary>
    private int Fold(TapeInstruction instruction, SyntaxNode node)
    {
        double Operand(int k) => k < 0 ? 0 : _tape[k].Constant;
        double value = TapeEvaluator.Scalar(instruction.Operation, Operand(instruction.A), Operand(instruction.B), instruction.Constant,
            instruction.Inputs?.Select(Operand).ToArray());
        if (!double.IsFinite(value))
            throw new ExpressionException($"The constant part at position {node.Position} evaluates to {value}.", node.Position, node.Length);
        return Constant(value);
    }

    private int Constant(double value) => Add(new TapeInstruction(TapeOperation.Constant, Constant: value));

    private bool IsConstant(int index) => _tape[index].Operation == TapeOperation.Constant;

    private static bool IsVariableName(string name) => name.Length > 1 && name[0] == 'x' && name.Skip(1).All(char.IsAsciiDigit);

    private int Add(TapeInstruction instruction)
    {
        if (_tape.Count >= ExpressionLimits.MaxOperations)
            throw new ExpressionException($"The expression expands to more than {ExpressionLimits.MaxOperations} operations (ranges are unrolled); simplify it.", 0, 0);
        _tape.Add(instruction);
        return _tape.Count - 1;
    }
}
