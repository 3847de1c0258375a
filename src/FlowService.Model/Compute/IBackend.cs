namespace FlowService.Model.Compute;

/// <summary>
/// The compute seam: every numeric operation a flow performs goes through a backend, so the
/// transforms run unchanged on the CPU and on a GPU.
/// </summary>
/// <remarks>
/// The interface is partial: each family of operations (GEMM, element-wise, activations, coupling
/// leaves, splines, optimizer steps, ...) is declared in its own file beside its CPU
/// implementation. Conventions, llm.c style: outputs first, shapes implied by the tensors;
/// every tensor argument belongs to this backend; operations that compute gradients
/// <b>accumulate</b> (+=) into parameter-gradient tensors and <b>overwrite</b> input gradients
/// unless their name says otherwise. Operations may not alias an output with an input unless
/// their documentation says in-place is allowed.
/// </remarks>
public partial interface IBackend
{
    /// <summary>"cpu", "cuda:0", ...</summary>
    string Name { get; }

    /// <summary>A new zero-filled rows x cols tensor.</summary>
    Tensor Allocate(int rows, int cols);

    /// <summary>Copies host floats into <paramref name="destination"/> (length must match).</summary>
    void Upload(ReadOnlySpan<float> source, Tensor destination);

    /// <summary>Copies <paramref name="source"/> to host memory (length must match).</summary>
    void Download(Tensor source, Span<float> destination);

    /// <summary>destination = source (same shape).</summary>
    void Copy(Tensor source, Tensor destination);

    /// <summary>Every element of <paramref name="destination"/> = <paramref name="value"/>.</summary>
    void Fill(Tensor destination, float value);

    /// <summary>
    /// C = alpha · op(A) · op(B) + beta · C, with op(X) = X or Xᵀ. C is m x n; op(A) is m x k;
    /// op(B) is k x n. A, B and C are row-major and contiguous (leading dimension = Cols).
    /// beta = 0 overwrites C, whatever it held (NaN included).
    /// </summary>
    void Gemm(bool transposeA, bool transposeB, float alpha, Tensor a, Tensor b, float beta, Tensor c);
}
