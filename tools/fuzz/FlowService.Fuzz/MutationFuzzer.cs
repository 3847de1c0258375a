using System.Diagnostics;
using System.Security.Cryptography;

namespace FlowService.Fuzz;

/// <summary>
/// An in-process mutation fuzzer (no coverage feedback: neither AFL nor libFuzzer runs on these machines). Each
/// execution takes a corpus entry and applies 1-8 random mutations: bit flips, boundary bytes, inserted, deleted or
/// duplicated ranges, splices with another entry, and the target's tokens. A mutant whose outcome (accepted, or the
/// rejection's type and first words) was not seen before joins the corpus, a cheap stand-in for coverage. Inputs
/// that raise an unexpected exception are written to the crash folder.
/// </summary>
public sealed class MutationFuzzer(FuzzTarget target, IReadOnlyList<byte[]> seeds, int seed, int maxLength = 4096)
{
    readonly Random _random = new(seed);
    readonly List<byte[]> _corpus = [.. seeds.Where(s => s.Length <= maxLength)];
    readonly HashSet<string> _outcomes = [];

    public long Executions { get; private set; }

    public int CorpusSize => _corpus.Count;

    public List<(byte[] Input, Exception Error)> Crashes { get; } = [];

    public void Run(TimeSpan duration, long maxExecutions = long.MaxValue)
    {
        if (_corpus.Count == 0)
            _corpus.Add([]);
        foreach (var input in _corpus.ToArray())
            Execute(input);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration && Executions < maxExecutions)
        {
            // Checking the clock every execution costs more than a small parse; every 256 is fine-grained enough.
            for (int i = 0; i < 256 && Executions < maxExecutions; i++)
                Execute(Mutate(_corpus[_random.Next(_corpus.Count)]));
        }
    }

    void Execute(byte[] input)
    {
        Executions++;
        string outcome;
        try
        {
            target.Run(input);
            outcome = "accepted";
        }
        catch (Exception e) when (target.IsExpected(e))
        {
            outcome = e.GetType().Name + ":" + string.Join(' ', e.Message.Split(' ').Take(4));
        }
        catch (Exception e)
        {
            Crashes.Add((input, e));
            outcome = "crash:" + e.GetType().Name;
        }
        if (_outcomes.Add(outcome) && _corpus.Count < 10_000)
            _corpus.Add(input);
    }

    byte[] Mutate(byte[] source)
    {
        var data = new List<byte>(source);
        int rounds = 1 + _random.Next(8);
        for (int r = 0; r < rounds; r++)
        {
            switch (_random.Next(9))
            {
                case 0 when data.Count > 0:
                    data[_random.Next(data.Count)] ^= (byte)(1 << _random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[_random.Next(data.Count)] = (byte)(new[] { 0x00, 0xFF, 0x7F, 0x80, 0x01, 0x2D, 0x30, 0x39, 0x22, 0x2C, 0x0A }[_random.Next(11)]);
                    break;
                case 2:
                    data.InsertRange(_random.Next(data.Count + 1), RandomBytes(1 + _random.Next(8)));
                    break;
                case 3 when data.Count > 1:
                {
                    int at = _random.Next(data.Count), length = 1 + _random.Next(Math.Min(32, data.Count - at));
                    data.RemoveRange(at, length);
                    break;
                }
                case 4 when data.Count > 1:
                {
                    int at = _random.Next(data.Count), length = 1 + _random.Next(Math.Min(64, data.Count - at));
                    data.InsertRange(_random.Next(data.Count + 1), data.GetRange(at, length));
                    break;
                }
                case 5:
                {
                    var other = _corpus[_random.Next(_corpus.Count)];
                    if (other.Length == 0) break;
                    int from = _random.Next(other.Length), length = 1 + _random.Next(other.Length - from);
                    int at = _random.Next(data.Count + 1);
                    data.RemoveRange(at, Math.Min(length, data.Count - at));
                    data.InsertRange(at, other.AsSpan(from, length).ToArray());
                    break;
                }
                case 6 or 7:
                {
                    var token = target.Tokens[_random.Next(target.Tokens.Length)];
                    int at = _random.Next(data.Count + 1);
                    if (_random.Next(2) == 0 && at < data.Count)
                        data.RemoveRange(at, Math.Min(token.Length, data.Count - at));
                    data.InsertRange(at, token);
                    break;
                }
                case 8 when data.Count > 0:
                {
                    // A digit run made longer or a number made huge: shapes, lengths and counts are where overflows live.
                    int at = _random.Next(data.Count);
                    data.InsertRange(at, "999999999"u8.ToArray().AsSpan(0, 1 + _random.Next(9)).ToArray());
                    break;
                }
            }
        }
        if (data.Count > maxLength)
            data.RemoveRange(maxLength, data.Count - maxLength);
        return data.ToArray();
    }

    byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        _random.NextBytes(bytes);
        return bytes;
    }

    public static string Name(byte[] input) => Convert.ToHexStringLower(SHA256.HashData(input))[..16];
}
