using System.Buffers.Text;
using System.Text;

namespace LmForge.Tokenization;

/// <summary>
/// tiktoken's rank file (e.g. cl100k_base.tiktoken): one token a line, "&lt;base64 of its bytes&gt; &lt;rank&gt;".
/// </summary>
public static class TiktokenRankFile
{
    /// <summary>Reads the ranks (token bytes → rank) in file order.</summary>
    /// <exception cref="TokenizerFormatException">A line is malformed or a token or rank repeats (names file:line).</exception>
    public static List<KeyValuePair<byte[], int>> Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var reader = new StreamReader(path, Encoding.UTF8);
        return Read(reader, path);
    }

    /// <summary>Reads ranks from a reader; <paramref name="sourceName"/> names it in errors.</summary>
    public static List<KeyValuePair<byte[], int>> Read(TextReader reader, string sourceName)
    {
        var ranks = new List<KeyValuePair<byte[], int>>(200_000);
        var seenRanks = new Dictionary<int, int>();
        var seenTokens = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNumber = 0;
        string? line;
        byte[] scratch = new byte[1024];
        int maxRank = -1, maxRankLine = 0;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (line.Length == 0) continue; // tiktoken skips empty lines
            int space = line.IndexOf(' ');
            if (space <= 0 || space != line.LastIndexOf(' '))
                throw Error(sourceName, lineNumber, $"expected '<base64 token> <rank>', got '{UntrustedText.Excerpt(line)}'");
            string base64 = line[..space];
            if (!int.TryParse(line.AsSpan(space + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int rank))
                throw Error(sourceName, lineNumber, $"rank '{UntrustedText.Excerpt(line[(space + 1)..])}' is not a non-negative integer");
            if (scratch.Length < base64.Length) scratch = new byte[base64.Length];
            if (!Convert.TryFromBase64String(base64, scratch, out int length) || length == 0)
                throw Error(sourceName, lineNumber, $"token '{UntrustedText.Excerpt(base64)}' is not non-empty base64");
            if (seenRanks.TryGetValue(rank, out int firstLine))
                throw Error(sourceName, lineNumber, $"rank {rank} already given on line {firstLine}");
            if (seenTokens.TryGetValue(base64, out firstLine))
                throw Error(sourceName, lineNumber, $"token '{UntrustedText.Excerpt(base64)}' already given on line {firstLine}");
            if (rank > maxRank) (maxRank, maxRankLine) = (rank, lineNumber);
            seenRanks.Add(rank, lineNumber);
            seenTokens.Add(base64, lineNumber);
            ranks.Add(new(scratch.AsSpan(0, length).ToArray(), rank));
        }
        // Ranks number the tokens (gaps allowed): a rank far beyond their count is damage, not a token.
        if (maxRank >= ranks.Count + BpeTokenizer.MaxUnusedIds)
            throw Error(sourceName, maxRankLine, $"rank {maxRank} is out of range: the file has {ranks.Count} ranks, so ranks must be below {ranks.Count + BpeTokenizer.MaxUnusedIds}");
        return ranks;
    }

    /// <summary>Writes ranks in rank order, to a temporary name renamed into place (no half-written file).</summary>
    public static void Write(string path, IEnumerable<KeyValuePair<byte[], int>> ranks)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(ranks);
        Saving.AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            foreach (var (bytes, rank) in ranks.OrderBy(r => r.Value))
            {
                writer.Write(Convert.ToBase64String(bytes));
                writer.Write(' ');
                writer.WriteLine(rank.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        });
    }

    private static TokenizerFormatException Error(string source, int line, string message) => new($"{source}:{line}: {message}");
}
