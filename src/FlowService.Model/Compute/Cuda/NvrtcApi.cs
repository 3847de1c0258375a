using System.Runtime.InteropServices;
using System.Text;

namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// NVRTC (libnvrtc): compiles CUDA C source to device code at run time, for the compute capability
/// of the device in hand, so the binary carries kernel source and no prebuilt GPU code.
/// </summary>
internal sealed unsafe class NvrtcApi
{
    private static readonly string[] Candidates =
    [
        "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so",
        "nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll",
    ];
    private static readonly Lazy<(NvrtcApi? Api, string Failure)> Shared = new(Load);

    private readonly string _library;
    private readonly delegate* unmanaged<int, IntPtr> _getErrorString;
    private readonly delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int> _createProgram;
    private readonly delegate* unmanaged<IntPtr, int, byte**, int> _compileProgram;
    private readonly delegate* unmanaged<IntPtr*, int> _destroyProgram;
    private readonly delegate* unmanaged<IntPtr, nuint*, int> _getLogSize;
    private readonly delegate* unmanaged<IntPtr, byte*, int> _getLog;
    private readonly delegate* unmanaged<IntPtr, nuint*, int> _getPtxSize;
    private readonly delegate* unmanaged<IntPtr, byte*, int> _getPtx;
    private readonly delegate* unmanaged<IntPtr, nuint*, int> _getCubinSize;
    private readonly delegate* unmanaged<IntPtr, byte*, int> _getCubin;

    private NvrtcApi(IntPtr lib, string name)
    {
        _library = name;
        IntPtr F(string symbol) => NativeLibraryProbe.Export(lib, name, symbol);
        _getErrorString = (delegate* unmanaged<int, IntPtr>)F("nvrtcGetErrorString");
        _createProgram = (delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int>)F("nvrtcCreateProgram");
        _compileProgram = (delegate* unmanaged<IntPtr, int, byte**, int>)F("nvrtcCompileProgram");
        _destroyProgram = (delegate* unmanaged<IntPtr*, int>)F("nvrtcDestroyProgram");
        _getLogSize = (delegate* unmanaged<IntPtr, nuint*, int>)F("nvrtcGetProgramLogSize");
        _getLog = (delegate* unmanaged<IntPtr, byte*, int>)F("nvrtcGetProgramLog");
        _getPtxSize = (delegate* unmanaged<IntPtr, nuint*, int>)F("nvrtcGetPTXSize");
        _getPtx = (delegate* unmanaged<IntPtr, byte*, int>)F("nvrtcGetPTX");
        if (NativeLibrary.TryGetExport(lib, "nvrtcGetCUBINSize", out IntPtr cubinSize) && NativeLibrary.TryGetExport(lib, "nvrtcGetCUBIN", out IntPtr cubin))
        {
            _getCubinSize = (delegate* unmanaged<IntPtr, nuint*, int>)cubinSize;
            _getCubin = (delegate* unmanaged<IntPtr, byte*, int>)cubin;
        }
    }

    public string LibraryName => _library;

    public static NvrtcApi? TryGet(out string failure)
    {
        (NvrtcApi? api, string reason) = Shared.Value;
        failure = reason;
        return api;
    }

    private static (NvrtcApi?, string) Load()
    {
        if (!NativeLibraryProbe.TryLoad(Candidates, out IntPtr lib, out string name, out string failure))
            return (null, $"NVRTC is missing ({failure}); install the CUDA NVRTC runtime library");
        try
        {
            return (new NvrtcApi(lib, name), "");
        }
        catch (CudaException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>
    /// Compiles <paramref name="source"/> for compute capability major.minor. Returns a CUBIN (machine
    /// code for that exact architecture, which a driver older than this NVRTC still loads) when the
    /// library can produce one, else PTX for the driver to JIT. A compile error throws with NVRTC's log.
    /// Multiply-adds are not contracted (--fmad=false): .NET does not contract either, so element-wise
    /// kernels round as the CPU backend does (they are memory-bound; the FMA would buy nothing).
    /// </summary>
    public byte[] Compile(string source, string programName, int major, int minor)
    {
        bool cubin = _getCubin != null;
        string[] options = [cubin ? $"--gpu-architecture=sm_{major}{minor}" : $"--gpu-architecture=compute_{major}{minor}", "--std=c++17", "-default-device", "--fmad=false"];
        IntPtr program;
        byte[] src = Encoding.UTF8.GetBytes(source + "\0");
        byte[] name = Encoding.UTF8.GetBytes(programName + "\0");
        fixed (byte* s = src, n = name)
            Check(_createProgram(&program, s, n, 0, null, null), "nvrtcCreateProgram");
        try
        {
            byte[][] encoded = options.Select(o => Encoding.ASCII.GetBytes(o + "\0")).ToArray();
            var handles = new GCHandle[encoded.Length];
            byte** pointers = stackalloc byte*[encoded.Length];
            int status;
            try
            {
                for (int i = 0; i < encoded.Length; i++)
                {
                    handles[i] = GCHandle.Alloc(encoded[i], GCHandleType.Pinned);
                    pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                }
                status = _compileProgram(program, encoded.Length, pointers);
            }
            finally
            {
                foreach (GCHandle h in handles)
                    if (h.IsAllocated)
                        h.Free();
            }
            if (status != 0)
                throw new CudaException($"nvrtcCompileProgram({programName}, {string.Join(' ', options)}) failed: {ErrorString(status)}\n{Log(program)}");
            nuint size;
            Check(cubin ? _getCubinSize(program, &size) : _getPtxSize(program, &size), cubin ? "nvrtcGetCUBINSize" : "nvrtcGetPTXSize");
            var image = new byte[(int)size];
            fixed (byte* p = image)
                Check(cubin ? _getCubin(program, p) : _getPtx(program, p), cubin ? "nvrtcGetCUBIN" : "nvrtcGetPTX");
            return image;
        }
        finally
        {
            _destroyProgram(&program);
        }
    }

    private string Log(IntPtr program)
    {
        nuint size;
        if (_getLogSize(program, &size) != 0 || size <= 1)
            return "(no compiler log)";
        var log = new byte[(int)size];
        fixed (byte* p = log)
            if (_getLog(program, p) != 0)
                return "(compiler log unavailable)";
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    private string ErrorString(int status) => $"{Marshal.PtrToStringAnsi(_getErrorString(status)) ?? "NVRTC_ERROR"} ({status}) [{_library}]";

    private void Check(int status, string call)
    {
        if (status != 0)
            throw new CudaException($"{call} failed: {ErrorString(status)}");
    }
}
