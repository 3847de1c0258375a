using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Parameters;
using FlowService.Model.Tests.Transforms;
using FlowService.Model.Transforms;

namespace FlowService.Model.Tests.Cuda;

/// <summary>
/// Every transform and flow type of <see cref="TransformCases"/> on CUDA against the CPU backend:
/// forward (z and log|det|), backward (dx, dcontext and every parameter gradient) and inverse,
/// so each device op they use (dense layers, masked weights, leaves, column moves) is covered in place.
/// </summary>
public sealed class CudaTransformTests
{
    private const int Rows = 33;

    public static IEnumerable<object[]> Cases => TransformCases.Names(withContext: true);

    [CudaTheory]
    [MemberData(nameof(Cases))]
    public void Forward_backward_and_inverse_match_the_cpu(string name, int contextFeatures)
    {
        var transform = TransformCases.All[name](contextFeatures, false);
        var layout = new ParameterLayout();
        transform.DeclareParameters(layout.Scope(""));
        var initializer = new ParameterInitializer(layout, seed: 7);
        transform.InitializeParameters(initializer);
        int d = transform.Features, arena = Math.Max(layout.Length, 1);
        var random = new Random(name.Length * 7 + contextFeatures);
        float[] x = ParityAssert.Random(random, Rows * d, 1.5f), condition = ParityAssert.Random(random, Rows * contextFeatures);
        float[] parameters = new float[arena];
        initializer.Values.CopyTo(parameters, 0);

        var results = new List<float[]>[2];
        IBackend[] backends = [CpuBackend.Instance, CudaTestDevice.Backend];
        for (int which = 0; which < 2; which++)
        {
            IBackend b = backends[which];
            var context = new FlowContext(b, Up(b, parameters, 1, arena), b.Allocate(1, arena)) { RecordForBackward = true };
            if (contextFeatures > 0)
            {
                context.Condition = Up(b, condition, Rows, contextFeatures);
                context.ConditionGradient = b.Allocate(Rows, contextFeatures);
            }
            Tensor tx = Up(b, x, Rows, d), z = b.Allocate(Rows, d), logDet = b.Allocate(Rows, 1);
            transform.Forward(context, tx, z, logDet);
            Tensor dz = Up(b, CudaCoreOpsTests.DownloadAll(b, z).Select(v => v / Rows).ToArray(), Rows, d);
            Tensor dLogDet = Up(b, Enumerable.Repeat(-1f / Rows, Rows).ToArray(), Rows, 1), dx = b.Allocate(Rows, d);
            transform.Backward(context, dz, dLogDet, dx);
            Tensor back = b.Allocate(Rows, d);
            transform.Inverse(context, z, back);
            results[which] =
            [
                Down(b, z), Down(b, logDet), Down(b, dx), Down(b, context.Gradients!), Down(b, back),
                contextFeatures > 0 ? Down(b, context.ConditionGradient!) : [],
            ];
        }
        string[] what = ["z", "logDet", "dx", "parameter gradients", "inverse", "dcontext"];
        for (int i = 0; i < what.Length; i++)
            ParityAssert.Close(results[0][i], results[1][i], 2e-4, $"{name} (context {contextFeatures}) {what[i]}");
        ParityAssert.Close(x, results[1][4], 1e-4, $"{name} CUDA inverse(forward(x)) vs x");
    }

    private static Tensor Up(IBackend backend, float[] data, int rows, int cols) => CudaCoreOpsTests.Upload(backend, data, rows, cols);

    private static float[] Down(IBackend backend, Tensor t) => CudaCoreOpsTests.DownloadAll(backend, t);
}
