using System.Security.Cryptography;
using System.Text;

namespace FlowService.Model.Checkpoints;

/// <summary>
/// A directory of files written all-or-nothing and verified on read. <see cref="Write"/> builds the
/// files in a hidden sibling directory, fsyncs each one and the manifest <c>SHA256SUMS</c>
/// (the format of <c>sha256sum -c</c>), then renames the directory into place; the previous
/// version is renamed aside first and removed last, so a crash at any point leaves either the old
/// or the new directory complete (<see cref="Read"/> restores the old one if the crash fell
/// between the two renames), never a partial file under the final name.
/// </summary>
public static class ChecksummedDirectory
{
    public const string ManifestName = "SHA256SUMS";
    private const string StagingMarker = ".staging-";
    private const string RetiredMarker = ".retired-";

    public static void Write(string directory, IReadOnlyDictionary<string, byte[]> files)
    {
        string target = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
        string parent = Path.GetDirectoryName(target)!;
        string name = Path.GetFileName(target);
        Directory.CreateDirectory(parent);
        RecoverInterruptedSwap(target);
        string staging = Path.Combine(parent, $".{name}{StagingMarker}{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            var manifest = new StringBuilder();
            foreach (var (fileName, content) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                if (fileName == ManifestName || fileName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || fileName.Contains(' '))
                    throw new ArgumentException($"'{fileName}' is not a valid checkpoint file name.", nameof(files));
                WriteDurably(Path.Combine(staging, fileName), content);
                manifest.Append(Sha256(content)).Append("  ").Append(fileName).Append('\n');
            }
            WriteDurably(Path.Combine(staging, ManifestName), Encoding.ASCII.GetBytes(manifest.ToString()));
            string? retired = null;
            if (Directory.Exists(target))
            {
                retired = Path.Combine(parent, $".{name}{RetiredMarker}{Guid.NewGuid():N}");
                Directory.Move(target, retired);
            }
            Directory.Move(staging, target);
            if (retired is not null)
                Directory.Delete(retired, recursive: true);
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Reads every file the manifest lists and checks its sha256; nothing unlisted is returned.</summary>
    public static IReadOnlyDictionary<string, byte[]> Read(string directory)
    {
        string target = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
        RecoverInterruptedSwap(target);
        string manifestPath = Path.Combine(target, ManifestName);
        if (!File.Exists(manifestPath))
            throw new CheckpointCorruptException($"Checkpoint {target}: {ManifestName} is missing (not a checkpoint, or written by an interrupted save).");
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string line in File.ReadAllLines(manifestPath).Where(l => l.Length > 0))
        {
            int split = line.IndexOf("  ", StringComparison.Ordinal);
            if (split != 64)
                throw new CheckpointCorruptException($"Checkpoint {target}: {ManifestName} has a malformed line '{line}'.");
            string expected = line[..64];
            string fileName = line[66..];
            if (fileName.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
                throw new CheckpointCorruptException($"Checkpoint {target}: {ManifestName} names an invalid file '{fileName}'.");
            string path = Path.Combine(target, fileName);
            if (!File.Exists(path))
                throw new CheckpointCorruptException($"Checkpoint {target}: {fileName} is missing.");
            byte[] content = File.ReadAllBytes(path);
            string actual = Sha256(content);
            if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw new CheckpointCorruptException($"Checkpoint {target}: {fileName} fails its sha256 check (expected {expected}, found {actual}, {content.Length} bytes): the file was modified or truncated.");
            files[fileName] = content;
        }
        return files;
    }

    public static string Sha256(ReadOnlySpan<byte> content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private static void WriteDurably(string path, byte[] content)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        stream.Write(content);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// A crash between "rename the old version aside" and "rename the new one in" leaves no target
    /// but a retired copy: put the retired copy back. Staging directories of a crashed write stay
    /// hidden (dot-named) and are never read.
    /// </summary>
    private static void RecoverInterruptedSwap(string target)
    {
        string parent = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(parent))
            return;
        string name = Path.GetFileName(target);
        var retired = Directory.GetDirectories(parent, $".{name}{RetiredMarker}*");
        if (!Directory.Exists(target) && retired.Length > 0)
            Directory.Move(retired.OrderByDescending(Directory.GetLastWriteTimeUtc).First(), target);
        foreach (string leftover in Directory.GetDirectories(parent, $".{name}{RetiredMarker}*"))
            TryDelete(leftover);
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Another writer may still be using it; the next write retries.
        }
    }
}
