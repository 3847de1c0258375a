using System.Diagnostics;
using System.Reflection;
using Xunit.Sdk;

namespace FlowService.GpuCheck;

/// <summary>
/// Runs the xunit facts and theories (InlineData/MemberData) compiled into this assembly, the same
/// files as the test project's Cuda folder, where no test host is installed. Prints one line per case.
/// </summary>
internal static class ParityRunner
{
    public static (int Passed, int Failed, int Skipped) RunAll(TextWriter output)
    {
        int passed = 0, failed = 0, skipped = 0;
        IEnumerable<Type> types = typeof(ParityRunner).Assembly.GetTypes()
            .Where(t => t.Namespace?.StartsWith("FlowService.Model.Tests", StringComparison.Ordinal) == true && !t.IsAbstract)
            .OrderBy(t => t.FullName, StringComparer.Ordinal);
        foreach (Type type in types)
        {
            foreach (MethodInfo method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance).OrderBy(m => m.Name, StringComparer.Ordinal))
            {
                if (method.GetCustomAttribute<FactAttribute>() is not { } fact)
                    continue;
                string name = $"{type.Name}.{method.Name}";
                if (fact.Skip is not null)
                {
                    output.WriteLine($"SKIP {name}: {fact.Skip}");
                    skipped++;
                    continue;
                }
                List<object?[]> cases = fact is TheoryAttribute
                    ? method.GetCustomAttributes<DataAttribute>().SelectMany(d => d.GetData(method)).Select(row => (object?[])row).ToList()
                    : [[]];
                foreach (object?[] arguments in cases)
                {
                    string label = arguments.Length == 0 ? name : $"{name}({string.Join(", ", arguments)})";
                    var clock = Stopwatch.StartNew();
                    try
                    {
                        Invoke(type, method, arguments);
                        output.WriteLine($"PASS {label} [{clock.Elapsed.TotalMilliseconds:F1} ms]");
                        passed++;
                    }
                    catch (Exception e)
                    {
                        Exception inner = e is TargetInvocationException { InnerException: { } ie } ? ie : e;
                        output.WriteLine($"FAIL {label}: {inner.GetType().Name}: {inner.Message}");
                        failed++;
                    }
                }
            }
        }
        return (passed, failed, skipped);
    }

    private static void Invoke(Type type, MethodInfo method, object?[] arguments)
    {
        object? instance = method.IsStatic ? null : Activator.CreateInstance(type);
        try
        {
            ParameterInfo[] parameters = method.GetParameters();
            object?[] converted = arguments.Select((a, i) => a is null || parameters[i].ParameterType.IsInstanceOfType(a)
                ? a : Convert.ChangeType(a, parameters[i].ParameterType, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            object? result = method.Invoke(instance, converted);
            if (result is Task task)
                task.GetAwaiter().GetResult();
        }
        finally
        {
            (instance as IDisposable)?.Dispose();
        }
    }
}
