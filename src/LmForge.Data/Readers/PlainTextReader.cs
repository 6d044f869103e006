using System.Text;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Readers;

/// <summary>
/// Reads plain-text files (plain or gzip, UTF-8): each file is one document whose id is its path relative to the
/// input directory. Files that are not valid UTF-8, or larger than <c>max_document_bytes</c> (decompressed), are
/// skipped and counted.
/// Recipe: <c>{"type": "text_reader", "path": "books/", "glob": "*.txt", "max_document_bytes": 67108864}</c>.
/// </summary>
[RecipeStep("text_reader")]
public sealed class PlainTextReader : FileReaderStep
{
    public const long DefaultMaxDocumentBytes = 64 << 20;

    public PlainTextReader(StepParameters parameters) : base(parameters, "*.txt*")
    {
        MaxDocumentBytes = parameters.GetLong("max_document_bytes", DefaultMaxDocumentBytes);
        if (MaxDocumentBytes <= 0 || MaxDocumentBytes > Array.MaxLength)
            throw parameters.Invalid("max_document_bytes", $"expected a positive byte count up to {Array.MaxLength}, got {MaxDocumentBytes}");
    }

    public PlainTextReader(string inputPath, string glob = "*.txt*") : base(inputPath, glob) { }

    public override string Name => "text_reader";

    /// <summary>Files whose (decompressed) text is larger are skipped as "document_too_large", read no further.</summary>
    public long MaxDocumentBytes { get; init; } = DefaultMaxDocumentBytes;

    protected override IEnumerable<Document> ReadFile(string path, StepStats stats, TaskContext context)
    {
        byte[] bytes;
        bool tooLarge = false;
        try
        {
            using var stream = InputFiles.OpenMaybeGzip(path);
            using var memory = new MemoryStream();
            var buffer = new byte[81920];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                if (memory.Length + read > MaxDocumentBytes)
                {
                    tooLarge = true;
                    break;
                }
                memory.Write(buffer, 0, read);
            }
            bytes = memory.ToArray();
        }
        catch (InvalidDataException e) when (InputFiles.IsGzipTruncation(e))
        {
            Skip(stats, context, "gzip_truncated", e.Message);
            yield break;
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            Skip(stats, context, "unreadable_file", $"{path}: {e.Message}");
            yield break;
        }
        context.Progress.AddInputBytes(new FileInfo(path).Length);
        if (tooLarge)
        {
            Skip(stats, context, "document_too_large", $"{path}: text of more than {MaxDocumentBytes} bytes exceeds the cap of {MaxDocumentBytes}");
            yield break;
        }
        if (!HtmlCharset.IsValidUtf8(bytes))
        {
            Skip(stats, context, "undecodable", $"{path}: not valid UTF-8");
            yield break;
        }
        var text = Encoding.UTF8.GetString(bytes.AsSpan(bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0));
        if (text.Trim().Length == 0)
        {
            stats.Count("skipped_empty_document");
            yield break;
        }
        string root = Directory.Exists(InputPath) ? InputPath : Path.GetDirectoryName(InputPath)!;
        yield return new Document(Path.GetRelativePath(root, path).Replace('\\', '/'), text);
    }
}
