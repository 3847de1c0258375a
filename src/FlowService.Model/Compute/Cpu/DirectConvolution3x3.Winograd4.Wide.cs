using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowService.Model.Compute.Cpu;

// F(4x4, 3x3)'s input and output transforms (DirectConvolution3x3.Winograd4.cs) on 16-float vectors, for the AVX-512
// path where the channels are a multiple of 16: half the instructions of the 8-float ones, the same arithmetic.
public static unsafe partial class DirectConvolution3x3
{
    /// <summary><see cref="InputTransform4"/> on 16-float vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTransform4Wide(float** d, int channels, float* v, long stride, Vector512<float>* work)
    {
        for (int c = 0; c < channels; c += 16)
        {
            for (int j = 0; j < 6; j++)
            {
                var (r0, r1, r2, r3, r4, r5) = DataTransformWide(Vector512.Load(d[j] + c), Vector512.Load(d[6 + j] + c), Vector512.Load(d[12 + j] + c),
                    Vector512.Load(d[18 + j] + c), Vector512.Load(d[24 + j] + c), Vector512.Load(d[30 + j] + c));
                work[j] = r0; work[6 + j] = r1; work[12 + j] = r2; work[18 + j] = r3; work[24 + j] = r4; work[30 + j] = r5;
            }
            for (int i = 0; i < 6; i++)
            {
                var row = work + 6 * i;
                var (r0, r1, r2, r3, r4, r5) = DataTransformWide(row[0], row[1], row[2], row[3], row[4], row[5]);
                float* target = v + 6 * i * stride + c;
                r0.Store(target);
                r1.Store(target + stride);
                r2.Store(target + 2 * stride);
                r3.Store(target + 3 * stride);
                r4.Store(target + 4 * stride);
                r5.Store(target + 5 * stride);
            }
        }
    }

    /// <summary><see cref="DataTransform"/> on 16-float vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) DataTransformWide(
        Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3, Vector512<float> d4, Vector512<float> d5)
    {
        var four = Vector512.Create(4f);
        var two = Vector512.Create(2f);
        var d4MinusD2 = d4 - d2;
        return (
            Vector512.FusedMultiplyAdd(four, d0 - d2, d4MinusD2),
            Vector512.FusedMultiplyAdd(-four, d1 + d2, d3 + d4),
            Vector512.FusedMultiplyAdd(four, d1 - d2, d4 - d3),
            Vector512.FusedMultiplyAdd(two, d3 - d1, d4MinusD2),
            Vector512.FusedMultiplyAdd(two, d1 - d3, d4MinusD2),
            Vector512.FusedMultiplyAdd(four, d1 - d3, d5 - d3));
    }

    /// <summary><see cref="OutputTransform4"/> on 16-float vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputTransform4Wide(float* m, long stride, int channels, float* y, long rowFloats, Vector512<float>* work)
    {
        for (int c = 0; c < channels; c += 16)
        {
            float* p = m + c;
            for (int j = 0; j < 6; j++)
            {
                var (s0, s1, s2, s3) = OutputRowTransformWide(Vector512.Load(p + j * stride), Vector512.Load(p + (6 + j) * stride),
                    Vector512.Load(p + (12 + j) * stride), Vector512.Load(p + (18 + j) * stride), Vector512.Load(p + (24 + j) * stride),
                    Vector512.Load(p + (30 + j) * stride));
                work[j] = s0; work[6 + j] = s1; work[12 + j] = s2; work[18 + j] = s3;
            }
            for (int r = 0; r < 4; r++)
            {
                var row = work + 6 * r;
                var (o0, o1, o2, o3) = OutputRowTransformWide(row[0], row[1], row[2], row[3], row[4], row[5]);
                float* target = y + r * rowFloats + c;
                o0.Store(target);
                o1.Store(target + channels);
                o2.Store(target + 2 * channels);
                o3.Store(target + 3 * channels);
            }
        }
    }

    /// <summary><see cref="OutputRowTransform"/> on 16-float vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) OutputRowTransformWide(
        Vector512<float> m0, Vector512<float> m1, Vector512<float> m2, Vector512<float> m3, Vector512<float> m4, Vector512<float> m5)
    {
        var sum12 = m1 + m2;
        var difference12 = m1 - m2;
        var sum34 = m3 + m4;
        var difference34 = m3 - m4;
        return (
            m0 + sum12 + sum34,
            Vector512.FusedMultiplyAdd(Vector512.Create(2f), difference34, difference12),
            Vector512.FusedMultiplyAdd(Vector512.Create(4f), sum34, sum12),
            Vector512.FusedMultiplyAdd(Vector512.Create(8f), difference34, difference12) + m5);
    }
}
