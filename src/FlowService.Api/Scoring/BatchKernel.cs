namespace FlowService.Api.Scoring;

/// <summary>
/// One engine call over a batch: <paramref name="input"/> is rows x input width, <paramref name="context"/>
/// rows x context width, and the call fills up to two output planes (rows x their widths), e.g. z and log|det| for encode.
/// </summary>
public delegate void BatchKernel(ReadOnlySpan<float> input, ReadOnlySpan<float> context, int rows, Span<float> output0, Span<float> output1);
