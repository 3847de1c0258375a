using System.Globalization;
using System.IO.Compression;

namespace FlowService.Tests.Shared;

/// <summary>
/// The real-data quality suite's datasets, built bit for bit as tools/reference/real_datasets.py
/// builds them, from files that Debian packages install (python3-sklearn's bundled CSVs,
/// dataset-fashion-mnist's IDX files): each column dequantized by one unit of its recorded
/// resolution (u · 10^-k, u ~ U[0, 1) row-major from <see cref="PortableRandom"/>), the rows
/// shuffled by Fisher-Yates with the same generator, the first 80% for training and the rest held
/// out. The class label of each row comes along for the class-held-out anomaly splits.
/// </summary>
public static class RealDatasets
{
    public const string SklearnData = "/usr/lib/python3/dist-packages/sklearn/datasets/data";
    public const string FashionMnist = "/usr/share/datasets/fashion-mnist";
    public const double TestFraction = 0.2;

    /// <summary>One suite set: float32 row-major parts, labels (0 where the set has none), and the classes that are "normal" in its anomaly split (null: none).</summary>
    public sealed record Split(string Name, int Columns, float[] Train, float[] Test, int[] TrainLabels, int[] TestLabels, int[]? NormalClasses)
    {
        public int TrainRows => Train.Length / Columns;

        public int TestRows => Test.Length / Columns;

        /// <summary>
        /// The class-held-out anomaly split as a split of its own (tools/reference/real_datasets.py's anomaly_split): it trains on
        /// the training rows of the normal classes and holds out every row it never trains on, the held-out rows of every class
        /// and then the training rows of the other classes. Those are as unseen as the held-out ones, and counting them gives the
        /// AUROC about five times the (anomaly, normal) pairs (breast cancer: 212 malignant rows instead of 43), so that it
        /// measures ranking rather than the luck of a few rows. The negatives stay the held-out normal rows: every other normal
        /// row is trained on.
        /// </summary>
        public Split ForAnomalies()
        {
            var normal = NormalClasses ?? throw new InvalidOperationException($"{Name} has no anomaly split.");
            var keep = Enumerable.Range(0, TrainRows).Where(r => normal.Contains(TrainLabels[r])).ToArray();
            var other = Enumerable.Range(0, TrainRows).Where(r => !normal.Contains(TrainLabels[r])).ToArray();
            float[] Rows(int[] rows) => rows.SelectMany(r => Train.AsSpan(r * Columns, Columns).ToArray()).ToArray();
            return this with
            {
                Train = Rows(keep), TrainLabels = keep.Select(r => TrainLabels[r]).ToArray(),
                Test = [.. Test, .. Rows(other)], TestLabels = [.. TestLabels, .. other.Select(r => TrainLabels[r])],
            };
        }

        /// <summary>Per held-out row, whether its class is outside the normal ones (the set must have normal classes).</summary>
        public bool[] AnomalyLabels => TestLabels.Select(l => !NormalClasses!.Contains(l)).ToArray();
    }

    private sealed record Source(Func<(double[,] X, int[]? Labels)> Load, ulong Seed, int[]? NormalClasses, Func<bool> Available);

    private static readonly Dictionary<string, Source> Sources = new()
    {
        ["iris"] = new(() => SklearnCsv("iris.csv"), 11, [0, 1], SklearnAvailable),
        ["wine"] = new(() => SklearnCsv("wine_data.csv"), 12, [0, 1], SklearnAvailable),
        ["breast_cancer"] = new(() => SklearnCsv("breast_cancer.csv"), 13, [1], SklearnAvailable),
        ["diabetes"] = new(() => (GzRows("diabetes_data_raw.csv.gz", null), null), 14, null, SklearnAvailable),
        ["digits"] = new(() => LabelLast(GzRows("digits.csv.gz", ',')), 15, [0, 1, 2, 3, 4], SklearnAvailable),
        ["fashion_mnist_7x7"] = new(FashionMnistPooled, 16, [0, 1, 2, 3, 4], () => File.Exists(Path.Combine(FashionMnist, "t10k-images-idx3-ubyte.gz"))),
    };

    public static IReadOnlyCollection<string> Names => Sources.Keys;

    /// <summary>Null when the set's files are installed, else the reason (which Debian package is missing).</summary>
    public static string? UnavailableReason(string name) => Sources[name].Available() ? null
        : name.StartsWith("fashion", StringComparison.Ordinal) ? "Debian's dataset-fashion-mnist is not installed" : "Debian's python3-sklearn is not installed";

    public static Split Load(string name)
    {
        var source = Sources[name];
        var (x, labels) = source.Load();
        int rows = x.GetLength(0), cols = x.GetLength(1);
        var random = new PortableRandom(source.Seed);
        var resolution = new double[cols];
        for (int j = 0; j < cols; j++)
            resolution[j] = Resolution(x, j);
        var values = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++)
                values[r * cols + j] = (float)(x[r, j] + random.NextDouble() * resolution[j]);
        var order = Enumerable.Range(0, rows).ToArray();
        for (int i = rows - 1; i > 0; i--)
        {
            int k = random.NextInt(i + 1);
            (order[i], order[k]) = (order[k], order[i]);
        }
        int test = (int)Math.Round(rows * TestFraction, MidpointRounding.ToEven), train = rows - test;
        float[] Take(int start, int count) => Enumerable.Range(start, count).SelectMany(i => values.AsSpan(order[i] * cols, cols).ToArray()).ToArray();
        int[] Labels(int start, int count) => Enumerable.Range(start, count).Select(i => labels?[order[i]] ?? 0).ToArray();
        return new Split(name, cols, Take(0, train), Take(train, test), Labels(0, train), Labels(train, test), source.NormalClasses);
    }

    /// <summary>10^-k for the smallest k in 0..6 with every value of the column a multiple of it (relative tolerance 1e-6), else 0.</summary>
    public static double Resolution(double[,] x, int column)
    {
        double[] powers = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
        for (int k = 0; k < powers.Length; k++)
        {
            bool grid = true;
            for (int r = 0; r < x.GetLength(0) && grid; r++)
            {
                double scaled = x[r, column] * powers[k];
                grid = Math.Abs(scaled - Math.Round(scaled, MidpointRounding.ToEven)) <= 1e-6 * Math.Max(1.0, Math.Abs(scaled));
            }
            if (grid)
                return 1.0 / powers[k];
        }
        return 0;
    }

    private static bool SklearnAvailable() => File.Exists(Path.Combine(SklearnData, "iris.csv"));

    /// <summary>sklearn's bundled CSVs: a header line (rows, columns, class names), then features and the class last.</summary>
    private static (double[,], int[]?) SklearnCsv(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(SklearnData, file)).Skip(1).Where(l => l.Trim().Length > 0).ToArray();
        return LabelLast(ToMatrix(lines.Select(l => l.Split(',')).ToArray()));
    }

    private static double[,] GzRows(string file, char? separator)
    {
        using var stream = new GZipStream(File.OpenRead(Path.Combine(SklearnData, file)), CompressionMode.Decompress);
        var lines = new StreamReader(stream).ReadToEnd().Split('\n').Where(l => l.Trim().Length > 0);
        return ToMatrix(lines.Select(l => separator is { } s ? l.Split(s) : l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).ToArray());
    }

    private static double[,] ToMatrix(string[][] cells)
    {
        var x = new double[cells.Length, cells[0].Length];
        for (int r = 0; r < cells.Length; r++)
            for (int j = 0; j < cells[0].Length; j++)
                x[r, j] = double.Parse(cells[r][j], CultureInfo.InvariantCulture);
        return x;
    }

    private static (double[,], int[]?) LabelLast(double[,] all)
    {
        int rows = all.GetLength(0), cols = all.GetLength(1) - 1;
        var x = new double[rows, cols];
        var labels = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
                x[r, j] = all[r, j];
            labels[r] = (int)all[r, cols];
        }
        return (x, labels);
    }

    /// <summary>The 70,000 Fashion-MNIST images (train, then t10k), each summed over 4x4 pixel blocks: 7x7 = 49 integer columns.</summary>
    private static (double[,], int[]?) FashionMnistPooled()
    {
        var images = Idx("train-images-idx3-ubyte.gz").Concat(Idx("t10k-images-idx3-ubyte.gz")).ToArray();
        var labels = Idx("train-labels-idx1-ubyte.gz").Concat(Idx("t10k-labels-idx1-ubyte.gz")).Select(b => (int)b).ToArray();
        int n = labels.Length;
        var x = new double[n, 49];
        for (int i = 0; i < n; i++)
            for (int row = 0; row < 28; row++)
                for (int col = 0; col < 28; col++)
                    x[i, row / 4 * 7 + col / 4] += images[i * 784 + row * 28 + col];
        return (x, labels);
    }

    /// <summary>The payload bytes of a gzipped IDX file (big-endian header: magic with the dimension count in its low byte, then the sizes).</summary>
    private static byte[] Idx(string file)
    {
        using var stream = new GZipStream(File.OpenRead(Path.Combine(FashionMnist, file)), CompressionMode.Decompress);
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        var raw = memory.ToArray();
        int dimensions = raw[3];
        return raw[(4 + 4 * dimensions)..];
    }
}
