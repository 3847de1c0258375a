using System.Diagnostics;
using System.Globalization;
using FlowService.Fuzz;

// FlowService.Fuzz <target|all> [--seconds N] [--executions N] [--corpus DIR] [--crashes DIR] [--seed N]
//   In-process mutation fuzzing of the service's parsers; exit 1 when any input raised an unexpected exception
//   (each is written to the crash folder). With --afl the target reads one input from stdin under SharpFuzz's AFL
//   runner instead (afl-fuzz -i corpus/TARGET -o out -- dotnet FlowService.Fuzz.dll TARGET --afl), for machines that
//   have afl-fuzz and an assembly instrumented with the sharpfuzz tool.
var options = args.Skip(1).Chunk(2).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
string which = args.FirstOrDefault() ?? "all";
var targets = which == "all" ? FuzzTargets.All : FuzzTargets.All.Where(t => t.Name == which).ToArray();
if (targets.Count == 0)
{
    Console.Error.WriteLine($"Unknown target '{which}'; targets: all, {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}.");
    return 2;
}
if (args.Contains("--afl"))
{
    var single = targets[0];
    SharpFuzz.Fuzzer.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        try
        {
            single.Run(buffer.ToArray());
        }
        catch (Exception e) when (single.IsExpected(e))
        {
        }
    });
    return 0;
}

double seconds = double.Parse(options.GetValueOrDefault("--seconds", "10"), CultureInfo.InvariantCulture);
long executions = long.Parse(options.GetValueOrDefault("--executions", long.MaxValue.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
string corpusRoot = options.GetValueOrDefault("--corpus", Path.Combine(AppContext.BaseDirectory, "corpus"));
string crashRoot = options.GetValueOrDefault("--crashes", "fuzz-crashes");
int seed = int.Parse(options.GetValueOrDefault("--seed", "1"), CultureInfo.InvariantCulture);

int crashes = 0;
foreach (var target in targets)
{
    string folder = Path.Combine(corpusRoot, target.Name);
    var seeds = Directory.Exists(folder) ? Directory.GetFiles(folder).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList() : [];
    var fuzzer = new MutationFuzzer(target, seeds, seed);
    var clock = Stopwatch.StartNew();
    fuzzer.Run(TimeSpan.FromSeconds(seconds), executions);
    double elapsed = clock.Elapsed.TotalSeconds;
    Console.WriteLine($"{{\"target\":\"{target.Name}\",\"executions\":{fuzzer.Executions},\"seconds\":{elapsed.ToString("F1", CultureInfo.InvariantCulture)}," +
        $"\"executionsPerSecond\":{(fuzzer.Executions / elapsed).ToString("F0", CultureInfo.InvariantCulture)},\"seeds\":{seeds.Count},\"corpus\":{fuzzer.CorpusSize},\"crashes\":{fuzzer.Crashes.Count}}}");
    foreach (var (input, error) in fuzzer.Crashes.DistinctBy(c => (c.Error.GetType(), c.Error.StackTrace?.Split('\n').FirstOrDefault())).Take(5))
    {
        Directory.CreateDirectory(crashRoot);
        string file = Path.Combine(crashRoot, $"{target.Name}-{MutationFuzzer.Name(input)}.bin");
        File.WriteAllBytes(file, input);
        Console.Error.WriteLine($"CRASH {target.Name}: {error.GetType().Name}: {error.Message} (input {file})\n{error.StackTrace}");
    }
    crashes += fuzzer.Crashes.Count;
}
return crashes == 0 ? 0 : 1;
