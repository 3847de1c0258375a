using FlowService.Training.Images;

namespace FlowService.Training.Datasets;

/// <summary>
/// Image uploads as datasets: N images of C x H x W values become N rows of C·H·W columns (channels
/// first, named by <see cref="DatasetImage.ColumnNames"/>) that record their <see cref="DatasetImage"/>.
/// Limits: <see cref="DatasetLimits.MaxImageValues"/> per image, <see cref="DatasetLimits.MaxImageDatasetValues"/>
/// in all, <see cref="DatasetLimits.MaxRows"/> images.
/// </summary>
public static class ImageTables
{
    /// <summary>An IDX archive (gzipped or not) of (N, H, W) or (N, C, H, W) unsigned bytes.</summary>
    public static NumericTable FromIdx(ReadOnlySpan<byte> body, DatasetLimits limits)
    {
        var (shape, values) = IdxFormat.Read(body, limits.MaxUploadBytes);
        if (shape.Length is not (3 or 4))
            throw new DatasetValidationException(
                $"The IDX file has shape ({string.Join(", ", shape)}); images are (N, H, W) or (N, C, H, W) (a labels file is 1-D).", column: "shape");
        return FromPixels(shape, values.Length, i => values[i], limits);
    }

    /// <summary>
    /// Images of <paramref name="shape"/> (N, H, W) or (N, C, H, W) whose i-th value (C order) is
    /// <paramref name="value"/>(i); every value must be finite.
    /// </summary>
    public static NumericTable FromPixels(IReadOnlyList<int> shape, long count, Func<long, double> value, DatasetLimits limits)
    {
        int n = shape[0], c = shape.Count == 4 ? shape[1] : 1, h = shape[^2], w = shape[^1];
        string text = $"({string.Join(", ", shape)})";
        if (n < 1 || c < 1 || h < 1 || w < 1)
            throw new DatasetValidationException($"The image array has shape {text}: it holds no image.", column: "shape");
        // Three sizes below 2^31 can wrap a long (to a negative size that passed this check); the third factor is applied
        // only once the first two are known to be within the limit.
        long perImage = (long)c * h;
        if (perImage <= limits.MaxImageValues)
            perImage *= w;
        if (perImage > limits.MaxImageValues)
            throw new DatasetValidationException($"Images of {c}x{h}x{w} have more than {limits.MaxImageValues} values, the most allowed (FlowService:Limits:MaxImageValues).", column: "shape");
        if (n > limits.MaxRows)
            throw new DatasetValidationException($"The dataset has {n} images; at most {limits.MaxRows} are allowed (FlowService:Limits:MaxRows).", row: limits.MaxRows + 1L);
        if (n * perImage > limits.MaxImageDatasetValues)
            throw new DatasetValidationException(
                $"{n} images of {perImage} values are {n * perImage} values; at most {limits.MaxImageDatasetValues} are allowed (FlowService:Limits:MaxImageDatasetValues).", tooLarge: true);
        if (count != n * perImage)
            throw new DatasetValidationException($"The data holds {count} values but shape {text} needs {n * perImage}.", column: "shape");

        var names = DatasetImage.ColumnNames(c, h, w);
        var values = new double[n * perImage];
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        bool discrete = true;
        for (long i = 0; i < values.Length; i++)
        {
            double v = value(i);
            if (!double.IsFinite(v))
                throw new DatasetValidationException($"Image {i / perImage + 1}, pixel '{names[i % perImage]}': {v} is not finite (NaN and infinities are not accepted).",
                    row: i / perImage + 1, column: names[i % perImage]);
            values[i] = v;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            discrete &= v == Math.Floor(v) && v is >= 0 and <= 255;
        }
        return new NumericTable(names, n, values) { Image = new DatasetImage(c, h, w, min, max, discrete) };
    }
}
