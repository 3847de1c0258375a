namespace FlowService.ServingLoad;

/// <summary>A process's resident memory from /proc: current (VmRSS), peak (VmHWM), and resetting the peak (clear_refs 5).</summary>
public static class ProcessMemory
{
    public static long RssBytes(int pid) => Field(pid, "VmRSS:");

    public static long PeakBytes(int pid) => Field(pid, "VmHWM:");

    public static void ResetPeak(int pid) => File.WriteAllText($"/proc/{pid}/clear_refs", "5");

    static long Field(int pid, string name)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(name, StringComparison.Ordinal))
                return long.Parse(line[name.Length..].Trim().Split(' ')[0]) * 1024;
        return 0;
    }
}
