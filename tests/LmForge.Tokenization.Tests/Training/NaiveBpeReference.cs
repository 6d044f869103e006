using System.Text;
using System.Text.RegularExpressions;

namespace LmForge.Tokenization.Tests.Training;

/// <summary>
/// The textbook BPE trainer, written for the tests only: every piece occurrence is a list of byte strings,
/// and every step recounts every adjacent pair over the whole corpus (quadratic; tiny inputs only), picks the
/// highest count (ties: left bytes ordinally smallest, then right bytes), and merges it left to right.
/// </summary>
internal static class NaiveBpeReference
{
    public static List<(byte[] Left, byte[] Right)> Train(IEnumerable<string> texts, string pattern, int merges)
    {
        var split = new Regex(pattern);
        var words = new List<List<byte[]>>();
        foreach (var text in texts)
            foreach (Match m in split.Matches(text))
                words.Add([.. Encoding.UTF8.GetBytes(m.Value).Select(b => new[] { b })]);

        var learned = new List<(byte[], byte[])>();
        for (int step = 0; step < merges; step++)
        {
            var counts = new Dictionary<string, (byte[] Left, byte[] Right, int Count)>();
            foreach (var word in words)
                for (int i = 0; i + 1 < word.Count; i++)
                {
                    string key = Convert.ToHexString(word[i]) + "|" + Convert.ToHexString(word[i + 1]);
                    counts[key] = counts.TryGetValue(key, out var c) ? c with { Count = c.Count + 1 } : (word[i], word[i + 1], 1);
                }
            if (counts.Count == 0)
                break;
            var best = counts.Values
                .OrderByDescending(c => c.Count)
                .ThenBy(c => c.Left, Comparer<byte[]>.Create((x, y) => x.AsSpan().SequenceCompareTo(y)))
                .ThenBy(c => c.Right, Comparer<byte[]>.Create((x, y) => x.AsSpan().SequenceCompareTo(y)))
                .First();
            learned.Add((best.Left, best.Right));
            byte[] merged = [.. best.Left, .. best.Right];
            foreach (var word in words)
                for (int i = 0; i + 1 < word.Count; i++)
                    if (word[i].AsSpan().SequenceEqual(best.Left) && word[i + 1].AsSpan().SequenceEqual(best.Right))
                    {
                        word[i] = merged;
                        word.RemoveAt(i + 1);
                    }
        }
        return learned;
    }
}
