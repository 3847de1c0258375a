namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// The GPU backend: tensors in device memory, GEMM through cuBLAS, every other op an NVRTC-compiled
/// kernel, all queued in order on one stream of the device's primary context. Host code waits only
/// where it reads results back (<see cref="Download"/>, <see cref="Synchronize"/>).
/// </summary>
/// <remarks>
/// The driver, NVRTC and cuBLAS are loaded at run time (<see cref="TryCreate"/>), so a machine
/// without them never notices this class. One instance per device and process: kernels compile
/// once per process. Thread-safe: CUDA calls may come from any thread; each makes the context current.
/// </remarks>
public sealed unsafe partial class CudaBackend : IBackend
{
    private const uint BlockSize = 256;
    private static readonly Dictionary<int, CudaBackend> Instances = new();
    private static readonly Lock InstancesGate = new();

    [ThreadStatic]
    private static IntPtr t_currentContext;

    private readonly CudaDriverApi _driver;
    private readonly CublasApi _cublas;
    private readonly IntPtr _context;
    private readonly IntPtr _stream;
    private readonly IntPtr _cublasHandle;
    private readonly CudaKernelCache _kernels;
    private readonly uint _maxBlocks;

    private CudaBackend(int ordinal, CudaDriverApi driver, NvrtcApi nvrtc, CublasApi cublas)
    {
        _driver = driver;
        _cublas = cublas;
        int device = driver.Device(ordinal);
        _context = driver.RetainPrimaryContext(device);
        MakeCurrent();
        _stream = driver.StreamCreate();
        _cublasHandle = cublas.CreateHandle(_stream);
        ComputeCapabilityMajor = driver.DeviceAttribute(device, CudaDriverApi.DeviceAttributeComputeCapabilityMajor);
        ComputeCapabilityMinor = driver.DeviceAttribute(device, CudaDriverApi.DeviceAttributeComputeCapabilityMinor);
        int multiprocessors = driver.DeviceAttribute(device, CudaDriverApi.DeviceAttributeMultiprocessorCount);
        _maxBlocks = (uint)Math.Max(1, multiprocessors * 16);
        _kernels = new CudaKernelCache(driver, nvrtc, ComputeCapabilityMajor, ComputeCapabilityMinor);
        Name = $"cuda:{ordinal}";
        DeviceName = driver.DeviceName(device);
        Description = $"{Name} ({DeviceName}, compute capability {ComputeCapabilityMajor}.{ComputeCapabilityMinor}, {multiprocessors} SMs; {nvrtc.LibraryName}, {cublas.LibraryName})";
    }

    public string Name { get; }

    /// <summary>The GPU's own name, e.g. "NVIDIA H100 80GB HBM3".</summary>
    public string DeviceName { get; }

    /// <summary>Name, GPU, compute capability and the libraries loaded: the line the selector logs.</summary>
    public string Description { get; }

    public int ComputeCapabilityMajor { get; }

    public int ComputeCapabilityMinor { get; }

    /// <summary>NVRTC compilations so far (each kernel source compiles once).</summary>
    internal int CompiledKernelSources => _kernels.CompiledSources;

    /// <summary>
    /// The backend of device <paramref name="ordinal"/>, or false with the reason (library missing, no
    /// device, ordinal out of range, a failing call) in words. Never throws.
    /// </summary>
    public static bool TryCreate(int ordinal, out CudaBackend? backend, out string reason)
    {
        backend = null;
        lock (InstancesGate)
        {
            if (Instances.TryGetValue(ordinal, out CudaBackend? existing))
            {
                backend = existing;
                reason = "";
                return true;
            }
            CudaDriverApi? driver = CudaDriverApi.TryGet(out reason);
            if (driver is null)
                return false;
            NvrtcApi? nvrtc = NvrtcApi.TryGet(out reason);
            if (nvrtc is null)
                return false;
            CublasApi? cublas = CublasApi.TryGet(out reason);
            if (cublas is null)
                return false;
            try
            {
                int count = driver.DeviceCount();
                if (ordinal < 0 || ordinal >= count)
                {
                    reason = $"CUDA device {ordinal} does not exist ({count} device(s) present)";
                    return false;
                }
                backend = new CudaBackend(ordinal, driver, nvrtc, cublas);
                Instances.Add(ordinal, backend);
                return true;
            }
            catch (CudaException e)
            {
                reason = e.Message;
                return false;
            }
        }
    }

    /// <summary>The backend of device <paramref name="ordinal"/>; throws <see cref="CudaException"/> saying why when there is none.</summary>
    public static CudaBackend Create(int ordinal = 0) =>
        TryCreate(ordinal, out CudaBackend? backend, out string reason) ? backend! : throw new CudaException($"CUDA backend unavailable: {reason}");

    public Tensor Allocate(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        int length = checked(rows * cols);
        MakeCurrent();
        ulong pointer = 0;
        if (length > 0)
        {
            pointer = _driver.MemAlloc(length * 4L);
            _driver.MemsetD32(pointer, 0, length, _stream);
        }
        return new Tensor(new CudaStorage(this, pointer, length), 0, rows, cols);
    }

    public void Upload(ReadOnlySpan<float> source, Tensor destination)
    {
        RequireLength(destination, source.Length);
        if (source.Length == 0)
            return;
        MakeCurrent();
        // From pageable memory the copy returns once the source has been staged, so the span may go.
        fixed (float* host = source)
            _driver.CopyHostToDevice(Pointer(destination), host, source.Length * 4L, _stream);
    }

    public void Download(Tensor source, Span<float> destination)
    {
        RequireLength(source, destination.Length);
        if (destination.Length == 0)
            return;
        MakeCurrent();
        fixed (float* host = destination)
        {
            _driver.CopyDeviceToHost(host, Pointer(source), destination.Length * 4L, _stream);
            _driver.StreamSynchronize(_stream);
        }
    }

    public void Copy(Tensor source, Tensor destination)
    {
        RequireSameShape(source, destination);
        if (source.Length == 0)
            return;
        MakeCurrent();
        _driver.CopyDeviceToDevice(Pointer(destination), Pointer(source), source.Length * 4L, _stream);
    }

    public void Fill(Tensor destination, float value)
    {
        if (destination.Length == 0)
            return;
        MakeCurrent();
        _driver.MemsetD32(Pointer(destination), BitConverter.SingleToUInt32Bits(value), destination.Length, _stream);
    }

    /// <summary>Waits until every queued operation has finished (and surfaces an asynchronous kernel fault).</summary>
    public void Synchronize()
    {
        MakeCurrent();
        _driver.StreamSynchronize(_stream);
    }

    /// <summary>Device time of the work <paramref name="enqueue"/> queues, measured with CUDA events on the stream.</summary>
    public double ElapsedMilliseconds(Action enqueue)
    {
        MakeCurrent();
        IntPtr start = _driver.EventCreate(), end = _driver.EventCreate();
        try
        {
            _driver.EventRecord(start, _stream);
            enqueue();
            _driver.EventRecord(end, _stream);
            _driver.EventSynchronize(end);
            return _driver.EventElapsedMilliseconds(start, end);
        }
        finally
        {
            _driver.EventDestroy(start);
            _driver.EventDestroy(end);
        }
    }

    internal void Free(ulong pointer)
    {
        // Called from Dispose or the finalizer thread: never throw from here.
        if (_driver.TrySetCurrent(_context) == 0)
        {
            t_currentContext = _context;
            _driver.TryMemFree(pointer);
        }
    }

    /// <summary>The device address of element [0, 0] of <paramref name="tensor"/>, which must live on this backend.</summary>
    internal ulong Pointer(Tensor tensor)
    {
        if (tensor.Storage is not CudaStorage storage || !ReferenceEquals(storage.Backend, this))
            throw new ArgumentException($"{tensor} does not live on {Name}; upload it first.");
        return storage.Pointer + (ulong)tensor.Offset * 4;
    }

    internal CudaKernel Kernel(string source, string name)
    {
        MakeCurrent();
        return _kernels.Get(source, name);
    }

    /// <summary>Launches a grid-stride kernel over <paramref name="elements"/> items (arguments as pointers to their values).</summary>
    internal void Launch(CudaKernel kernel, long elements, void** arguments)
    {
        if (elements <= 0)
            return;
        uint blocks = (uint)Math.Min(_maxBlocks, (elements + BlockSize - 1) / BlockSize);
        MakeCurrent();
        _driver.LaunchKernel(kernel.Function, kernel.Name, blocks, 1, BlockSize, 1, 0, _stream, arguments);
    }

    /// <summary>Launches a kernel with an explicit grid and block (row-wise reductions and the like).</summary>
    internal void Launch(CudaKernel kernel, uint gridX, uint blockX, uint sharedBytes, void** arguments)
    {
        if (gridX == 0)
            return;
        MakeCurrent();
        _driver.LaunchKernel(kernel.Function, kernel.Name, gridX, 1, blockX, 1, sharedBytes, _stream, arguments);
    }

    /// <summary>Launches a kernel on a 2-D grid of 2-D blocks (column tiles x row chunks).</summary>
    internal void Launch2D(CudaKernel kernel, uint gridX, uint gridY, uint blockX, uint blockY, void** arguments)
    {
        if (gridX == 0 || gridY == 0)
            return;
        MakeCurrent();
        _driver.LaunchKernel(kernel.Function, kernel.Name, gridX, gridY, blockX, blockY, 0, _stream, arguments);
    }

    private void MakeCurrent()
    {
        if (t_currentContext == _context)
            return;
        _driver.SetCurrent(_context);
        t_currentContext = _context;
    }

    internal static void RequireLength(Tensor tensor, int length)
    {
        if (tensor.Length != length)
            throw new ArgumentException($"{tensor} holds {tensor.Length} floats, not {length}.");
    }

    internal static void RequireSameShape(Tensor a, Tensor b)
    {
        if (!a.SameShape(b))
            throw new ArgumentException($"Shapes differ: {a.Rows}x{a.Cols} vs {b.Rows}x{b.Cols}.");
    }
}
