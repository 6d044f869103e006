namespace LmForge.Models.Transformer;

/// <summary>The check every model runs on the ids it is given, so a bad id is one line naming where it is, not a wild read.</summary>
internal static class TokenIds
{
    /// <summary>Every id in [0, vocabularySize), or −1 too when <paramref name="allowIgnore"/> (an ignored target).</summary>
    public static void Check(ReadOnlySpan<int> ids, string name, int vocabularySize, bool allowIgnore)
    {
        int lowest = allowIgnore ? -1 : 0;
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] < lowest || ids[i] >= vocabularySize) ThrowOutOfRange(name, ids[i], i, lowest, vocabularySize);
        }
    }

    // apart from the loop, so the check that runs on every id stays small
    private static void ThrowOutOfRange(string name, int id, int index, int lowest, int vocabularySize) =>
        throw new ArgumentOutOfRangeException(name, $"{name}[{index}] = {id} is outside the vocabulary [{lowest}, {vocabularySize})");
}
