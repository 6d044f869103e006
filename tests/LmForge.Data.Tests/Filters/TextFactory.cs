using System.Text;
using LmForge.Data.Pipeline;

namespace LmForge.Data.Tests.Filters;

/// <summary>Builds hand-measured texts: distinct lower-case words of chosen lengths and texts of an exact length.</summary>
internal sealed class TextFactory
{
    private readonly Random _random = new(20230828);
    private readonly HashSet<string> _used = [];

    /// <summary>A word of exactly length letters never returned before.</summary>
    public string Word(int length)
    {
        while (true)
        {
            var chars = new char[length];
            for (int i = 0; i < length; i++) chars[i] = (char)('a' + _random.Next(26));
            var word = new string(chars);
            if (word is "the" or "be" or "to" or "of" or "and" or "that" or "have" or "with") continue;
            if (length <= 2 && _used.Count > 500) throw new InvalidOperationException("too few short words left");
            if (_used.Add(word)) return word;
        }
    }

    public string Words(int count, int length) => string.Join(' ', Enumerable.Range(0, count).Select(_ => Word(length)));

    /// <summary>Phrases separated by fresh filler words, then padded with fresh words to exactly length characters.</summary>
    public string Compose(int length, params string[] phrases)
    {
        var sb = new StringBuilder();
        foreach (var phrase in phrases)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(Word(7)).Append(' ').Append(phrase);
        }
        PadWithWords(sb, length);
        return sb.ToString();
    }

    /// <summary>Appends " word" pieces so that sb ends exactly at length characters.</summary>
    public void PadWithWords(StringBuilder sb, int length)
    {
        while (sb.Length < length)
        {
            int room = length - sb.Length - (sb.Length > 0 ? 1 : 0);
            if (room <= 0) throw new InvalidOperationException($"cannot pad {sb.Length} to {length}");
            int wordLength = room <= 14 ? room : 7;
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(Word(wordLength));
        }
        if (sb.Length != length) throw new InvalidOperationException($"composed {sb.Length} chars, wanted {length}");
    }

    public static string? Reason(IPipelineStep filter, string text) => Reason(filter, new Document("d", text));

    /// <summary>The reason the filter dropped the document, or null when it kept it.</summary>
    public static string? Reason(IPipelineStep filter, Document document)
    {
        var context = new TaskContext(0, 1, new PipelineStats());
        string? reason = null;
        var context2 = new TaskContext(0, 1, context.Stats) { RemovedDocumentSink = (_, r, _) => reason = r };
        var kept = filter.Run([document], context2).ToList();
        Assert.Equal(reason is null ? 1 : 0, kept.Count);
        return reason;
    }
}
