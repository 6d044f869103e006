using System.Text;

namespace LmForge.Tokenization.Tests.Training;

internal static class TrainingCorpus
{
    static readonly string[] Words =
    [
        "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "then", "there", "these", "those",
        "thinking", "nothing", "another", "mother", "brother", "weather", "whether", "banana", "bandana", "ananas",
        "it's", "we're", "they'll", "I'd", "1999", "2024", "3.14159", "naïve", "café", "über", "日本語", "😀",
        "aaaa", "abab", "abababab", "mississippi", "--", "...", "!!", "\t", "hello,", "world.",
    ];

    /// <summary>Seeded pseudo-English: repeated words, punctuation, digits, non-ASCII, newlines and runs of spaces.</summary>
    public static List<string> Documents(int count, int wordsPerDocument)
    {
        var random = new Random(20230828);
        var documents = new List<string>();
        for (int d = 0; d < count; d++)
        {
            var text = new StringBuilder();
            for (int w = 0; w < wordsPerDocument; w++)
            {
                text.Append(Words[(int)(Math.Pow(random.NextDouble(), 2) * Words.Length)]);
                int gap = random.Next(20);
                text.Append(gap switch { 0 => "\n", 1 => "\n\n", 2 => "  ", _ => " " });
            }
            documents.Add(text.ToString());
        }
        return documents;
    }
}
