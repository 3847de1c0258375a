using FlowService.Model.Compute.Cuda;

namespace FlowService.Model.Tests.Cuda;

/// <summary>NVRTC compilation: once per source, and compile errors surface the compiler's log.</summary>
public sealed class CudaKernelCacheTests
{
    [CudaFact]
    public void A_source_compiles_once_and_its_kernel_runs()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        const string source = """
            extern "C" __global__ void cache_test_affine(float* x, float a, float b, long long n)
            {
                long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
                if (i < n) x[i] = a * x[i] + b;
            }
            """;
        CudaKernel first = gpu.Kernel(source, "cache_test_affine");
        int compiled = gpu.CompiledKernelSources;
        CudaKernel second = gpu.Kernel(source, "cache_test_affine");
        Assert.Equal(first, second);
        Assert.Equal(compiled, gpu.CompiledKernelSources);

        float[] data = ParityAssert.Random(new Random(5), 1000);
        var t = CudaCoreOpsTests.Upload(gpu, data, 1000, 1);
        Launch(gpu, first, gpu.Pointer(t), 2f, 0.5f, 1000);
        float[] back = CudaCoreOpsTests.DownloadAll(gpu, t);
        for (int i = 0; i < data.Length; i++)
            Assert.Equal(2f * data[i] + 0.5f, back[i]);
    }

    [CudaFact]
    public void A_compile_error_throws_with_the_nvrtc_log()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        const string broken = """extern "C" __global__ void broken_kernel(float* x) { x[0] = undeclared_name; }""";
        var e = Assert.Throws<CudaException>(() => gpu.Kernel(broken, "broken_kernel"));
        Assert.Contains("nvrtcCompileProgram", e.Message);
        Assert.Contains("undeclared_name", e.Message);
    }

    private static unsafe void Launch(CudaBackend gpu, CudaKernel kernel, ulong pointer, float a, float b, long n)
    {
        void** args = stackalloc void*[] { &pointer, &a, &b, &n };
        gpu.Launch(kernel, n, args);
    }
}
