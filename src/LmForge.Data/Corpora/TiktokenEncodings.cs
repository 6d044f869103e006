using System.Text;
using System.Text.Json;
using LmForge.Tokenization;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Corpora;

/// <summary>
/// OpenAI's published encodings (gpt2, cl100k_base, o200k_base) as tiktoken rank files, taken from the npm registry's
/// package `tiktoken` (MIT; its encoders/NAME.json hold the ranks packed as lines "&lt;skipped&gt; &lt;first rank&gt;
/// &lt;base64 token&gt; ..." with consecutive ranks), fetched with the ordinary npm client and written as the usual
/// "&lt;base64 token&gt; &lt;rank&gt;" lines where <see cref="KnownEncodings"/> looks for them.
/// </summary>
public static class TiktokenEncodings
{
    public const string NpmPackage = "tiktoken@1.0.22";

    /// <summary>Writes every known encoding's rank file into <paramref name="directory"/> (default: where <see cref="KnownEncodings"/> looks); returns their paths.</summary>
    public static IReadOnlyList<string> Fetch(string? directory = null, Action<string>? log = null)
    {
        string target = directory ?? KnownEncodings.DefaultDirectory();
        Directory.CreateDirectory(target);
        string work = Directory.CreateTempSubdirectory("lmforge-tiktoken-").FullName;
        try
        {
            log?.Invoke($"fetching {NpmPackage} with npm");
            string tarball = Corpora.NpmPackage.Pack(NpmPackage, work, "put NAME.tiktoken rank files into " + target + " yourself");
            Corpora.NpmPackage.ExtractFiles(tarball, [.. KnownEncodings.Names.Select(n => $"encoders/{n}.json")], work);
            var written = new List<string>();
            foreach (string name in KnownEncodings.Names)
            {
                string path = Path.Combine(target, name + ".tiktoken");
                AtomicFile.WriteText(path, RankFile(Path.Combine(work, name + ".json")));
                written.Add(path);
            }
            return written;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The rank-file text of one of the package's encoders/NAME.json files.</summary>
    public static string RankFile(string packedJson)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(packedJson));
        string packed = document.RootElement.GetProperty("bpe_ranks").GetString()
            ?? throw new InvalidDataException($"{packedJson}: bpe_ranks is not a string");
        var text = new StringBuilder();
        foreach (string line in packed.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] fields = line.Split(' ');
            if (fields.Length < 2 || !int.TryParse(fields[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int first))
                throw new InvalidDataException($"{packedJson}: a bpe_ranks line does not start with a rank: {(line.Length > 60 ? line[..60] + "..." : line)}");
            for (int i = 2; i < fields.Length; i++) text.Append(fields[i]).Append(' ').Append(first + i - 2).Append('\n');
        }
        return text.ToString();
    }
}
