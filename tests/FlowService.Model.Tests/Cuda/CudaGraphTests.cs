using FlowService.Model.Compute;
using FlowService.Model.Compute.Cuda;

namespace FlowService.Model.Tests.Cuda;

/// <summary>CUDA graphs: a captured op sequence replays with the same result as running it eagerly.</summary>
public sealed class CudaGraphTests
{
    [CudaFact]
    public void A_captured_sequence_replays_on_new_inputs_as_eager_ops_would()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        var random = new Random(21);
        Tensor a = gpu.Allocate(33, 17), w = gpu.Allocate(9, 17), mask = gpu.Allocate(9, 17), masked = gpu.Allocate(9, 17), c = gpu.Allocate(33, 9);
        gpu.Upload(Enumerable.Range(0, 9 * 17).Select(i => (float)(i % 3 == 0 ? 0 : 1)).ToArray(), mask);
        void Step()
        {
            gpu.MaskWeights(w, mask, masked);
            gpu.Gemm(false, true, 1f, a, masked, 0f, c);
            gpu.AccumulateMaskedGradient(masked, mask, w);
        }

        Step();   // compiles the kernels outside the capture
        using CudaGraph graph = gpu.Capture(Step);
        for (int replay = 0; replay < 3; replay++)
        {
            float[] aData = ParityAssert.Random(random, 33 * 17), wData = ParityAssert.Random(random, 9 * 17);
            gpu.Upload(aData, a);
            gpu.Upload(wData, w);
            graph.Launch();
            float[] graphC = CudaCoreOpsTests.DownloadAll(gpu, c), graphW = CudaCoreOpsTests.DownloadAll(gpu, w);

            gpu.Upload(aData, a);
            gpu.Upload(wData, w);
            Step();
            Assert.Equal(CudaCoreOpsTests.DownloadAll(gpu, c), graphC);
            Assert.Equal(CudaCoreOpsTests.DownloadAll(gpu, w), graphW);
        }
    }

    [CudaFact]
    public void A_download_inside_a_capture_is_refused_with_the_call_named()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        Tensor t = gpu.Allocate(4, 4);
        var e = Assert.ThrowsAny<CudaException>(() => gpu.Capture(() => gpu.Download(t, new float[16])));
        Assert.Contains("CAPTURE", e.Message);
        gpu.Fill(t, 2f);   // the stream is usable again after the failed capture
        Assert.All(CudaCoreOpsTests.DownloadAll(gpu, t), v => Assert.Equal(2f, v));
    }
}
