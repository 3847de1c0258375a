namespace FlowService.Fuzz;

/// <summary>
/// One parser under fuzz: <see cref="Run"/> feeds it bytes; an exception of a type in <see cref="Expected"/> is a
/// rejection (the service answers it with a 4xx problem), any other exception is a crash (the service would answer 500).
/// </summary>
/// <param name="Tokens">Byte strings the mutator splices in (format keywords, boundary numbers).</param>
public sealed record FuzzTarget(string Name, Action<byte[]> Run, Type[] Expected, byte[][] Tokens)
{
    public bool IsExpected(Exception e) => Expected.Any(t => t.IsInstanceOfType(e));
}
