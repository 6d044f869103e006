namespace LmForge.Data.Knowledge;

/// <summary>
/// Every word the model may have met: the words of the knowledge-base files and of the pretraining corpus. The
/// distinctive word of a made-up name (a person's last name, a country's or element's whole name) must not be one
/// of them, so neither that word nor the whole name occurs anywhere. Case is ignored.
/// </summary>
public sealed class KnownNames
{
    readonly HashSet<string> _words = new(StringComparer.Ordinal);

    /// <summary>Adds the words (runs of letters) of a text.</summary>
    public void Add(string text)
    {
        int start = -1;
        for (int i = 0; i <= text.Length; i++)
        {
            bool letter = i < text.Length && char.IsLetter(text[i]);
            if (letter && start < 0) start = i;
            else if (!letter && start >= 0)
            {
                _words.Add(text[start..i].ToLowerInvariant());
                start = -1;
            }
        }
    }

    public void AddFile(string path)
    {
        foreach (string line in File.ReadLines(path)) Add(line);
    }

    public bool Contains(string word) => _words.Contains(word.ToLowerInvariant());
}
