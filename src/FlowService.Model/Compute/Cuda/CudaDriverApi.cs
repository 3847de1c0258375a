using System.Runtime.InteropServices;

namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// The part of the CUDA driver API (libcuda, shipped with the NVIDIA driver) the backend uses, bound
/// at run time through function pointers. Versioned exports (<c>_v2</c>) are the ones the CUDA
/// headers map the plain names to. Every wrapper checks the CUresult and throws a
/// <see cref="CudaException"/> naming the call.
/// </summary>
internal sealed unsafe class CudaDriverApi
{
    public const int DeviceAttributeComputeCapabilityMajor = 75;
    public const int DeviceAttributeComputeCapabilityMinor = 76;
    public const int DeviceAttributeMultiprocessorCount = 16;
    private const int ErrorNoDevice = 100;

    private static readonly string[] Candidates = ["libcuda.so.1", "libcuda.so", "nvcuda.dll"];
    private static readonly Lazy<(CudaDriverApi? Api, string Failure)> Shared = new(Load);

    private readonly string _library;
    private readonly delegate* unmanaged<int, IntPtr*, int> _getErrorName;
    private readonly delegate* unmanaged<int, IntPtr*, int> _getErrorString;
    private readonly delegate* unmanaged<uint, int> _init;
    private readonly delegate* unmanaged<int*, int> _deviceGetCount;
    private readonly delegate* unmanaged<int*, int, int> _deviceGet;
    private readonly delegate* unmanaged<byte*, int, int, int> _deviceGetName;
    private readonly delegate* unmanaged<int*, int, int, int> _deviceGetAttribute;
    private readonly delegate* unmanaged<IntPtr*, int, int> _primaryCtxRetain;
    private readonly delegate* unmanaged<IntPtr, int> _ctxSetCurrent;
    private readonly delegate* unmanaged<ulong*, nuint, int> _memAlloc;
    private readonly delegate* unmanaged<ulong, int> _memFree;
    private readonly delegate* unmanaged<ulong, void*, nuint, IntPtr, int> _memcpyHtoDAsync;
    private readonly delegate* unmanaged<void*, ulong, nuint, IntPtr, int> _memcpyDtoHAsync;
    private readonly delegate* unmanaged<ulong, ulong, nuint, IntPtr, int> _memcpyDtoDAsync;
    private readonly delegate* unmanaged<ulong, uint, nuint, IntPtr, int> _memsetD32Async;
    private readonly delegate* unmanaged<IntPtr*, void*, int> _moduleLoadData;
    private readonly delegate* unmanaged<IntPtr*, IntPtr, byte*, int> _moduleGetFunction;
    private readonly delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int> _launchKernel;
    private readonly delegate* unmanaged<IntPtr*, uint, int> _streamCreate;
    private readonly delegate* unmanaged<IntPtr, int> _streamSynchronize;
    private readonly delegate* unmanaged<IntPtr*, uint, int> _eventCreate;
    private readonly delegate* unmanaged<IntPtr, IntPtr, int> _eventRecord;
    private readonly delegate* unmanaged<IntPtr, int> _eventSynchronize;
    private readonly delegate* unmanaged<float*, IntPtr, IntPtr, int> _eventElapsedTime;
    private readonly delegate* unmanaged<IntPtr, int> _eventDestroy;
    private readonly delegate* unmanaged<IntPtr, int, int> _streamBeginCapture;
    private readonly delegate* unmanaged<IntPtr, IntPtr*, int> _streamEndCapture;
    private readonly delegate* unmanaged<IntPtr*, IntPtr, ulong, int> _graphInstantiate;
    private readonly delegate* unmanaged<IntPtr, IntPtr, int> _graphLaunch;
    private readonly delegate* unmanaged<IntPtr, int> _graphExecDestroy;
    private readonly delegate* unmanaged<IntPtr, int> _graphDestroy;

    private CudaDriverApi(IntPtr lib, string name)
    {
        _library = name;
        IntPtr F(string symbol) => NativeLibraryProbe.Export(lib, name, symbol);
        _getErrorName = (delegate* unmanaged<int, IntPtr*, int>)F("cuGetErrorName");
        _getErrorString = (delegate* unmanaged<int, IntPtr*, int>)F("cuGetErrorString");
        _init = (delegate* unmanaged<uint, int>)F("cuInit");
        _deviceGetCount = (delegate* unmanaged<int*, int>)F("cuDeviceGetCount");
        _deviceGet = (delegate* unmanaged<int*, int, int>)F("cuDeviceGet");
        _deviceGetName = (delegate* unmanaged<byte*, int, int, int>)F("cuDeviceGetName");
        _deviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)F("cuDeviceGetAttribute");
        _primaryCtxRetain = (delegate* unmanaged<IntPtr*, int, int>)F("cuDevicePrimaryCtxRetain");
        _ctxSetCurrent = (delegate* unmanaged<IntPtr, int>)F("cuCtxSetCurrent");
        _memAlloc = (delegate* unmanaged<ulong*, nuint, int>)F("cuMemAlloc_v2");
        _memFree = (delegate* unmanaged<ulong, int>)F("cuMemFree_v2");
        _memcpyHtoDAsync = (delegate* unmanaged<ulong, void*, nuint, IntPtr, int>)F("cuMemcpyHtoDAsync_v2");
        _memcpyDtoHAsync = (delegate* unmanaged<void*, ulong, nuint, IntPtr, int>)F("cuMemcpyDtoHAsync_v2");
        _memcpyDtoDAsync = (delegate* unmanaged<ulong, ulong, nuint, IntPtr, int>)F("cuMemcpyDtoDAsync_v2");
        _memsetD32Async = (delegate* unmanaged<ulong, uint, nuint, IntPtr, int>)F("cuMemsetD32Async");
        _moduleLoadData = (delegate* unmanaged<IntPtr*, void*, int>)F("cuModuleLoadData");
        _moduleGetFunction = (delegate* unmanaged<IntPtr*, IntPtr, byte*, int>)F("cuModuleGetFunction");
        _launchKernel = (delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int>)F("cuLaunchKernel");
        _streamCreate = (delegate* unmanaged<IntPtr*, uint, int>)F("cuStreamCreate");
        _streamSynchronize = (delegate* unmanaged<IntPtr, int>)F("cuStreamSynchronize");
        _eventCreate = (delegate* unmanaged<IntPtr*, uint, int>)F("cuEventCreate");
        _eventRecord = (delegate* unmanaged<IntPtr, IntPtr, int>)F("cuEventRecord");
        _eventSynchronize = (delegate* unmanaged<IntPtr, int>)F("cuEventSynchronize");
        // CUDA 12.8 added cuEventElapsedTime_v2 (same signature); older drivers have only the plain name.
        _eventElapsedTime = (delegate* unmanaged<float*, IntPtr, IntPtr, int>)(NativeLibrary.TryGetExport(lib, "cuEventElapsedTime_v2", out IntPtr v2) ? v2 : F("cuEventElapsedTime"));
        _eventDestroy = (delegate* unmanaged<IntPtr, int>)F("cuEventDestroy_v2");
        _streamBeginCapture = (delegate* unmanaged<IntPtr, int, int>)F("cuStreamBeginCapture_v2");
        _streamEndCapture = (delegate* unmanaged<IntPtr, IntPtr*, int>)F("cuStreamEndCapture");
        _graphInstantiate = (delegate* unmanaged<IntPtr*, IntPtr, ulong, int>)F("cuGraphInstantiateWithFlags");
        _graphLaunch = (delegate* unmanaged<IntPtr, IntPtr, int>)F("cuGraphLaunch");
        _graphExecDestroy = (delegate* unmanaged<IntPtr, int>)F("cuGraphExecDestroy");
        _graphDestroy = (delegate* unmanaged<IntPtr, int>)F("cuGraphDestroy");
    }

    /// <summary>The driver API of this process (loaded and cuInit-ed once), or null with the reason.</summary>
    public static CudaDriverApi? TryGet(out string failure)
    {
        (CudaDriverApi? api, string reason) = Shared.Value;
        failure = reason;
        return api;
    }

    private static (CudaDriverApi?, string) Load()
    {
        if (!NativeLibraryProbe.TryLoad(Candidates, out IntPtr lib, out string name, out string failure))
            return (null, $"the CUDA driver library is missing ({failure}); install the NVIDIA driver");
        try
        {
            var api = new CudaDriverApi(lib, name);
            int status = api._init(0);
            if (status == ErrorNoDevice)
                return (null, $"{name} loaded but cuInit reports no CUDA-capable device");
            api.Check(status, "cuInit");
            return (api, "");
        }
        catch (CudaException e)
        {
            return (null, e.Message);
        }
    }

    public void Check(int status, string call)
    {
        if (status == 0)
            return;
        string errorName = "CUDA_ERROR_" + status, description = "";
        IntPtr text;
        if (_getErrorName(status, &text) == 0 && text != IntPtr.Zero)
            errorName = Marshal.PtrToStringAnsi(text) ?? errorName;
        if (_getErrorString(status, &text) == 0 && text != IntPtr.Zero)
            description = Marshal.PtrToStringAnsi(text) ?? "";
        throw new CudaException($"{call} failed: {errorName} ({status}) {description} [{_library}]");
    }

    public int DeviceCount()
    {
        int count;
        Check(_deviceGetCount(&count), "cuDeviceGetCount");
        return count;
    }

    public int Device(int ordinal)
    {
        int device;
        Check(_deviceGet(&device, ordinal), "cuDeviceGet");
        return device;
    }

    public string DeviceName(int device)
    {
        byte* buffer = stackalloc byte[256];
        Check(_deviceGetName(buffer, 256, device), "cuDeviceGetName");
        return Marshal.PtrToStringAnsi((IntPtr)buffer) ?? "";
    }

    public int DeviceAttribute(int device, int attribute)
    {
        int value;
        Check(_deviceGetAttribute(&value, attribute, device), "cuDeviceGetAttribute");
        return value;
    }

    /// <summary>The device's primary context: the one cuBLAS (through the CUDA runtime) uses too.</summary>
    public IntPtr RetainPrimaryContext(int device)
    {
        IntPtr context;
        Check(_primaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
        return context;
    }

    public void SetCurrent(IntPtr context) => Check(_ctxSetCurrent(context), "cuCtxSetCurrent");

    public int TrySetCurrent(IntPtr context) => _ctxSetCurrent(context);

    public ulong MemAlloc(long bytes)
    {
        ulong pointer;
        Check(_memAlloc(&pointer, (nuint)bytes), $"cuMemAlloc_v2({bytes} bytes)");
        return pointer;
    }

    public int TryMemFree(ulong pointer) => _memFree(pointer);

    public void MemFree(ulong pointer) => Check(_memFree(pointer), "cuMemFree_v2");

    public void CopyHostToDevice(ulong destination, void* source, long bytes, IntPtr stream) =>
        Check(_memcpyHtoDAsync(destination, source, (nuint)bytes, stream), "cuMemcpyHtoDAsync_v2");

    public void CopyDeviceToHost(void* destination, ulong source, long bytes, IntPtr stream) =>
        Check(_memcpyDtoHAsync(destination, source, (nuint)bytes, stream), "cuMemcpyDtoHAsync_v2");

    public void CopyDeviceToDevice(ulong destination, ulong source, long bytes, IntPtr stream) =>
        Check(_memcpyDtoDAsync(destination, source, (nuint)bytes, stream), "cuMemcpyDtoDAsync_v2");

    public void MemsetD32(ulong destination, uint value, long count, IntPtr stream) =>
        Check(_memsetD32Async(destination, value, (nuint)count, stream), "cuMemsetD32Async");

    public IntPtr ModuleLoadData(byte[] image)
    {
        IntPtr module;
        fixed (byte* data = image)
            Check(_moduleLoadData(&module, data), "cuModuleLoadData");
        return module;
    }

    public IntPtr ModuleGetFunction(IntPtr module, string name)
    {
        IntPtr function;
        byte[] ascii = System.Text.Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* n = ascii)
            Check(_moduleGetFunction(&function, module, n), $"cuModuleGetFunction({name})");
        return function;
    }

    public void LaunchKernel(IntPtr function, string name, uint gridX, uint gridY, uint blockX, uint blockY, uint sharedBytes, IntPtr stream, void** arguments) =>
        Check(_launchKernel(function, gridX, gridY, 1, blockX, blockY, 1, sharedBytes, stream, arguments, null), $"cuLaunchKernel({name})");

    public IntPtr StreamCreate()
    {
        IntPtr stream;
        Check(_streamCreate(&stream, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate");
        return stream;
    }

    public void StreamSynchronize(IntPtr stream) => Check(_streamSynchronize(stream), "cuStreamSynchronize");

    public IntPtr EventCreate()
    {
        IntPtr e;
        Check(_eventCreate(&e, 0), "cuEventCreate");
        return e;
    }

    public void EventRecord(IntPtr e, IntPtr stream) => Check(_eventRecord(e, stream), "cuEventRecord");

    public void EventSynchronize(IntPtr e) => Check(_eventSynchronize(e), "cuEventSynchronize");

    public float EventElapsedMilliseconds(IntPtr start, IntPtr end)
    {
        float ms;
        Check(_eventElapsedTime(&ms, start, end), "cuEventElapsedTime");
        return ms;
    }

    public void EventDestroy(IntPtr e) => Check(_eventDestroy(e), "cuEventDestroy_v2");

    /// <summary>Starts recording the stream's work into a graph; thread-local mode: other threads' CUDA calls are unaffected.</summary>
    public void BeginCapture(IntPtr stream) => Check(_streamBeginCapture(stream, 1 /* CU_STREAM_CAPTURE_MODE_THREAD_LOCAL */), "cuStreamBeginCapture_v2");

    /// <summary>Ends recording; returns the graph, or IntPtr.Zero with the status when capture was invalidated.</summary>
    public int TryEndCapture(IntPtr stream, out IntPtr graph)
    {
        IntPtr g;
        int status = _streamEndCapture(stream, &g);
        graph = g;
        return status;
    }

    public IntPtr GraphInstantiate(IntPtr graph)
    {
        IntPtr exec;
        Check(_graphInstantiate(&exec, graph, 0), "cuGraphInstantiateWithFlags");
        return exec;
    }

    public void GraphLaunch(IntPtr exec, IntPtr stream) => Check(_graphLaunch(exec, stream), "cuGraphLaunch");

    public int TryGraphExecDestroy(IntPtr exec) => _graphExecDestroy(exec);

    public int TryGraphDestroy(IntPtr graph) => _graphDestroy(graph);
}
