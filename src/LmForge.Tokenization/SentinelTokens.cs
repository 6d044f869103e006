namespace LmForge.Tokenization;

/// <summary>
/// T5's sentinel tokens &lt;extra_id_0&gt;, &lt;extra_id_1&gt;, ...: span corruption replaces the i-th corrupted span of
/// a window with sentinel i in the input, and the target spells each span after its sentinel. T5 has 100. Added to a
/// trained tokenizer on request (<see cref="With"/>, <c>lmforge tokenizer add-encoder-tokens</c>) without changing any
/// existing id, or trained with it (<c>lmforge tokenizer train --encoder</c>, after the <see cref="EncoderTokens"/>).
/// </summary>
public static class SentinelTokens
{
    /// <summary>T5's number of sentinels.</summary>
    public const int DefaultCount = 100;

    /// <summary>The commands that give a tokenizer the sentinels (and the encoder tokens), for errors about lacking them.</summary>
    public const string HowToAdd = "lmforge tokenizer add-encoder-tokens --tokenizer IN.json --out OUT.json adds them (with [PAD] [CLS] [SEP] [MASK]), as does training the tokenizer with lmforge tokenizer train --encoder";

    /// <summary>"&lt;extra_id_<paramref name="index"/>&gt;".</summary>
    public static string Name(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return $"<extra_id_{index}>";
    }

    /// <summary>The names of the first <paramref name="count"/> sentinels, in the order they take ids.</summary>
    public static IReadOnlyList<string> Names(int count = DefaultCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        return [.. Enumerable.Range(0, count).Select(Name)];
    }

    /// <summary>
    /// <paramref name="tokenizer"/> with the first <paramref name="count"/> sentinels it lacks at the next free ids, in
    /// order (itself when it has them all).
    /// </summary>
    public static BpeTokenizer With(BpeTokenizer tokenizer, int count = DefaultCount)
    {
        var added = new Dictionary<string, int>();
        int next = tokenizer.VocabularySize;
        foreach (string token in Names(count).Where(t => !tokenizer.SpecialTokens.ContainsKey(t))) added[token] = next++;
        return added.Count == 0 ? tokenizer : tokenizer.WithSpecialTokens(added);
    }

    /// <summary>The ids of &lt;extra_id_0&gt;, &lt;extra_id_1&gt;, ... for as long as the tokenizer has them without a gap.</summary>
    /// <exception cref="InvalidDataException">The tokenizer has no &lt;extra_id_0&gt;; the message names the commands that add them.</exception>
    public static IReadOnlyList<int> Ids(BpeTokenizer tokenizer)
    {
        var ids = new List<int>();
        while (tokenizer.SpecialTokens.TryGetValue(Name(ids.Count), out int id)) ids.Add(id);
        if (ids.Count == 0)
            throw new InvalidDataException($"tokenizer {tokenizer.Name} has no sentinel tokens ({Name(0)}, {Name(1)}, ...) for span corruption; {HowToAdd}");
        return ids;
    }
}
