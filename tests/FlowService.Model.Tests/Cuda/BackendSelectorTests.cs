using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Cuda;

namespace FlowService.Model.Tests.Cuda;

/// <summary>Device selection: cpu, cuda, auto; the fallback and the errors say why.</summary>
public sealed class BackendSelectorTests
{
    private static readonly Func<int, (IBackend?, string)> NoCuda = _ => (null, "none of libcuda.so.1, libcuda.so could be loaded");

    [Fact]
    public void Auto_falls_back_to_the_cpu_and_says_why_when_libcuda_is_absent()
    {
        var log = new StringWriter();
        IBackend backend = BackendSelector.Create("auto", log, NoCuda);
        Assert.Same(CpuBackend.Instance, backend);
        Assert.Contains("Compute backend: cpu", log.ToString());
        Assert.Contains("libcuda.so.1", log.ToString());
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("CUDA:0")]
    [InlineData("cuda:3")]
    public void Cuda_requested_without_a_device_is_a_clear_error(string device)
    {
        var e = Assert.Throws<InvalidOperationException>(() => BackendSelector.Create(device, null, NoCuda));
        Assert.Contains($"'{device}' was requested", e.Message);
        Assert.Contains("libcuda.so.1", e.Message);
    }

    [Fact]
    public void Cpu_is_chosen_without_probing_cuda()
    {
        var log = new StringWriter();
        IBackend backend = BackendSelector.Create(" CPU ", log, _ => throw new InvalidOperationException("probed"));
        Assert.Same(CpuBackend.Instance, backend);
        Assert.Equal("Compute backend: cpu (configured)", log.ToString().Trim());
    }

    [Fact]
    public void The_ordinal_of_cuda_n_reaches_the_probe()
    {
        int asked = -1;
        Assert.Throws<InvalidOperationException>(() => BackendSelector.Create("cuda:2", null, o => { asked = o; return (null, "x"); }));
        Assert.Equal(2, asked);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:-1")]
    [InlineData("")]
    public void Unknown_device_names_are_refused(string device)
    {
        var e = Assert.Throws<ArgumentException>(() => BackendSelector.Create(device, null, NoCuda));
        Assert.Contains("'cpu', 'cuda', 'cuda:N' or 'auto'", e.Message);
    }

    [Fact]
    public void Auto_on_this_machine_agrees_with_the_real_cuda_probe()
    {
        var log = new StringWriter();
        IBackend backend = BackendSelector.Create("auto", log);
        if (CudaBackend.TryCreate(0, out CudaBackend? cuda, out string reason))
        {
            Assert.Same(cuda, backend);
            Assert.Contains(cuda!.DeviceName, log.ToString());
        }
        else
        {
            Assert.Same(CpuBackend.Instance, backend);
            Assert.Contains(reason, log.ToString());
            var e = Assert.Throws<InvalidOperationException>(() => BackendSelector.Create("cuda"));
            Assert.Contains(reason, e.Message);
        }
    }
}
