namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// Compiles each kernel source once per backend (so once per process and device) with NVRTC for the
/// device's compute capability, loads it as a module and hands out its functions.
/// </summary>
internal sealed class CudaKernelCache
{
    private readonly CudaDriverApi _driver;
    private readonly NvrtcApi _nvrtc;
    private readonly int _major, _minor;
    private readonly Dictionary<string, IntPtr> _modules = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Source, string Name), CudaKernel> _kernels = new();
    // Launch-time lookups key the source string by identity (sources are constants or cached
    // strings): hashing a few KB of CUDA C on every launch cost about a microsecond.
    private readonly Dictionary<(string Source, string Name), CudaKernel> _byIdentity = new(IdentityKeyComparer.Instance);
    private readonly Lock _gate = new();

    public CudaKernelCache(CudaDriverApi driver, NvrtcApi nvrtc, int major, int minor)
    {
        _driver = driver;
        _nvrtc = nvrtc;
        _major = major;
        _minor = minor;
    }

    /// <summary>How many sources have been compiled so far (tests check that a second request compiles nothing).</summary>
    public int CompiledSources
    {
        get
        {
            lock (_gate)
                return _modules.Count;
        }
    }

    /// <summary>The <c>extern "C"</c> kernel <paramref name="name"/> of <paramref name="source"/>; the caller has made the context current.</summary>
    public CudaKernel Get(string source, string name)
    {
        lock (_gate)
        {
            if (_byIdentity.TryGetValue((source, name), out CudaKernel kernel))
                return kernel;
            if (_kernels.TryGetValue((source, name), out kernel))
            {
                _byIdentity[(source, name)] = kernel;
                return kernel;
            }
            if (!_modules.TryGetValue(source, out IntPtr module))
            {
                byte[] image = _nvrtc.Compile(source, name + ".cu", _major, _minor);
                module = _driver.ModuleLoadData(image);
                _modules.Add(source, module);
            }
            kernel = new CudaKernel(_driver.ModuleGetFunction(module, name), name);
            _kernels.Add((source, name), kernel);
            _byIdentity[(source, name)] = kernel;
            return kernel;
        }
    }

    private sealed class IdentityKeyComparer : IEqualityComparer<(string Source, string Name)>
    {
        public static readonly IdentityKeyComparer Instance = new();

        public bool Equals((string Source, string Name) x, (string Source, string Name) y) =>
            ReferenceEquals(x.Source, y.Source) && string.Equals(x.Name, y.Name, StringComparison.Ordinal);

        public int GetHashCode((string Source, string Name) key) =>
            HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(key.Source), key.Name.GetHashCode(StringComparison.Ordinal));
    }
}
