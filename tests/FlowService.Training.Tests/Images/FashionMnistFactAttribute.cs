namespace FlowService.Training.Tests.Images;

/// <summary>A fact about the real Fashion-MNIST archives; skipped, with the reason shown, when Debian's dataset-fashion-mnist is not installed.</summary>
public sealed class FashionMnistFactAttribute : FactAttribute
{
    public const string Folder = "/usr/share/datasets/fashion-mnist";

    public FashionMnistFactAttribute()
    {
        if (!File.Exists(Path.Combine(Folder, "train-images-idx3-ubyte.gz")) || !File.Exists(Path.Combine(Folder, "t10k-images-idx3-ubyte.gz")))
            Skip = $"Debian's dataset-fashion-mnist is not installed ({Folder}); test.sh installs it.";
    }
}
