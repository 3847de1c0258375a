using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Cuda;

namespace FlowService.Model.Tests.Cuda;

/// <summary>The core of the CUDA backend (memory, copies, fill) against the CPU backend.</summary>
public sealed class CudaCoreOpsTests
{
    [CudaFact]
    public void Allocate_returns_zeros_even_where_freed_memory_held_values()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        using (TensorStorage dirty = Upload(gpu, Enumerable.Repeat(7f, 4096).ToArray(), 64, 64).Storage)
        {
        }
        Tensor t = gpu.Allocate(64, 64);
        var host = new float[t.Length];
        Array.Fill(host, float.NaN);
        gpu.Download(t, host);
        Assert.All(host, v => Assert.Equal(0f, v));
        Assert.Equal("cuda:0", gpu.Name);
        Assert.Contains("compute capability", gpu.Description);
    }

    [CudaTheory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(1000, 37)]
    public void Upload_then_download_round_trips_bit_for_bit(int rows, int cols)
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        float[] data = ParityAssert.Random(new Random(rows * 31 + cols), rows * cols, 100f);
        data[0] = float.NegativeInfinity;
        Tensor t = Upload(gpu, data, rows, cols);
        var back = new float[data.Length];
        gpu.Download(t, back);
        Assert.Equal(data, back);
    }

    [CudaFact]
    public void Copy_and_fill_act_on_row_views_only()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        var random = new Random(3);
        float[] a = ParityAssert.Random(random, 10 * 4), b = ParityAssert.Random(random, 10 * 4);
        Tensor ga = Upload(gpu, a, 10, 4), gb = Upload(gpu, b, 10, 4);
        Tensor ca = Upload(CpuBackend.Instance, a, 10, 4), cb = Upload(CpuBackend.Instance, b, 10, 4);
        foreach (IBackend backend in new IBackend[] { gpu, CpuBackend.Instance })
        {
            (Tensor x, Tensor y) = backend == gpu ? (ga, gb) : (ca, cb);
            backend.Copy(x.SliceRows(2, 3), y.SliceRows(6, 3));
            backend.Fill(y.SliceRows(0, 2), -2.5f);
            backend.Fill(x.SliceRows(9, 1), float.NaN);
        }
        Assert.Equal(cb.Span().ToArray(), DownloadAll(gpu, gb));
        Assert.Equal(ca.Span().ToArray(), DownloadAll(gpu, ga));
    }

    [CudaFact]
    public void Tensors_of_another_backend_are_refused_with_a_clear_message()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        Tensor cpu = CpuBackend.Instance.Allocate(2, 2);
        var e = Assert.Throws<ArgumentException>(() => gpu.Fill(cpu, 1f));
        Assert.Contains("does not live on cuda:0", e.Message);
    }

    [CudaFact]
    public void Disposed_storage_is_freed_and_cannot_be_used()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        Tensor t = gpu.Allocate(8, 8);
        t.Storage.Dispose();
        Assert.Throws<ObjectDisposedException>(() => gpu.Fill(t, 1f));
    }

    [CudaFact]
    public void Threads_share_the_backend_each_making_the_context_current()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, 4).Select(id => new Thread(() =>
        {
            try
            {
                for (int round = 0; round < 20; round++)
                {
                    Tensor t = gpu.Allocate(16, 16 + id);
                    gpu.Fill(t, id * 100 + round);
                    float[] back = DownloadAll(gpu, t);
                    Assert.All(back, v => Assert.Equal(id * 100 + round, v));
                    t.Storage.Dispose();
                }
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
    }

    internal static Tensor Upload(IBackend backend, float[] data, int rows, int cols)
    {
        Tensor t = backend.Allocate(rows, cols);
        backend.Upload(data, t);
        return t;
    }

    internal static float[] DownloadAll(IBackend backend, Tensor t)
    {
        var host = new float[t.Length];
        backend.Download(t, host);
        return host;
    }
}
