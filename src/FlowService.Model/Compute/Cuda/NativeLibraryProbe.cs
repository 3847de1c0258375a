using System.Runtime.InteropServices;

namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// Finds a native library among candidate names (versioned sonames first), through the loader's
/// own search (LD_LIBRARY_PATH, the ld cache) and then the usual CUDA install folders, so the
/// binary starts on machines without CUDA and only the GPU backend notices.
/// </summary>
internal static class NativeLibraryProbe
{
    private static readonly string[] ExtraFolders =
    [
        Environment.GetEnvironmentVariable("CUDA_PATH") is { Length: > 0 } cudaPath ? Path.Combine(cudaPath, "lib64") : "",
        Environment.GetEnvironmentVariable("CUDA_HOME") is { Length: > 0 } cudaHome ? Path.Combine(cudaHome, "lib64") : "",
        "/usr/local/cuda/lib64",
        "/usr/local/cuda/targets/x86_64-linux/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/local/nvidia/lib64",
    ];

    /// <summary>Loads the first candidate that opens; returns false with every name tried when none does.</summary>
    public static bool TryLoad(string[] candidates, out IntPtr handle, out string loadedName, out string failure)
    {
        foreach (string name in candidates)
        {
            if (NativeLibrary.TryLoad(name, out handle))
            {
                loadedName = name;
                failure = "";
                return true;
            }
        }
        foreach (string folder in ExtraFolders)
        {
            if (folder.Length == 0 || !Directory.Exists(folder))
                continue;
            foreach (string name in candidates)
            {
                string path = Path.Combine(folder, name);
                if (File.Exists(path) && NativeLibrary.TryLoad(path, out handle))
                {
                    loadedName = path;
                    failure = "";
                    return true;
                }
            }
        }
        handle = IntPtr.Zero;
        loadedName = "";
        failure = $"none of {string.Join(", ", candidates)} could be loaded";
        return false;
    }

    /// <summary>The address of an exported function, or a clear error naming the library and the symbol.</summary>
    public static IntPtr Export(IntPtr library, string libraryName, string symbol)
    {
        if (NativeLibrary.TryGetExport(library, symbol, out IntPtr address))
            return address;
        throw new CudaException($"{libraryName} has no export '{symbol}' (library too old?).");
    }
}
