using System.Text;
using System.Text.Json;

namespace LmForge.Tokenization;

/// <summary>
/// OpenAI GPT-2's own tokenizer files: <c>encoder.json</c> (byte-level string → id) and <c>vocab.bpe</c>
/// ("#version" line, then one merge "left right" a line, in priority order).
/// </summary>
public static class Gpt2VocabularyFiles
{
    private static readonly string[] SpecialNames = ["<|endoftext|>", "<|startoftext|>"];

    /// <summary>
    /// Loads GPT-2's files as a tokenizer with GPT-2's split pattern: "&lt;|endoftext|&gt;" (and "&lt;|startoftext|&gt;"
    /// when present) become special tokens, every other entry an ordinary token, merged by vocab.bpe's order.
    /// </summary>
    /// <exception cref="TokenizerFormatException">A file is malformed (names the file and the key or line).</exception>
    public static BpeTokenizer Load(string encoderJsonPath, string vocabBpePath, string name = "gpt2")
    {
        ArgumentNullException.ThrowIfNull(encoderJsonPath);
        ArgumentNullException.ThrowIfNull(vocabBpePath);
        var vocabulary = new List<KeyValuePair<byte[], int>>();
        var specials = new Dictionary<string, int>();
        var idOfString = new Dictionary<string, int>(StringComparer.Ordinal);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(encoderJsonPath));
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException($"{encoderJsonPath}: not valid JSON at {UntrustedText.JsonError(e)}", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new TokenizerFormatException($"{encoderJsonPath}: expected a JSON object of token string → id, got {document.RootElement.ValueKind}");
            int tokenCount = document.RootElement.EnumerateObject().Count();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                string key;
                try
                {
                    key = property.Name;
                }
                catch (InvalidOperationException e)
                {
                    throw new TokenizerFormatException($"{encoderJsonPath}: a key is not valid text ({e.Message.ReplaceLineEndings(" ")})", e);
                }
                if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt32(out int id) || id < 0)
                    throw new TokenizerFormatException($"{encoderJsonPath}: key '{UntrustedText.Excerpt(key)}': expected a non-negative integer id, got {UntrustedText.Excerpt(property.Value.GetRawText())}");
                // Ids number the tokens (gaps allowed): an id far beyond their count is damage and must not size the id tables.
                if (id >= tokenCount + BpeTokenizer.MaxUnusedIds)
                    throw new TokenizerFormatException($"{encoderJsonPath}: key '{UntrustedText.Excerpt(key)}': id {id} is out of range: the file has {tokenCount} tokens, so ids must be below {tokenCount + BpeTokenizer.MaxUnusedIds}");
                if (SpecialNames.Contains(key))
                {
                    specials[key] = id;
                    continue;
                }
                byte[] bytes = ByteLevelCharacters.TryDecode(key, out int bad)
                    ?? throw new TokenizerFormatException($"{encoderJsonPath}: key '{UntrustedText.Excerpt(key)}': character U+{(int)key[bad]:X4} at index {bad} is not in GPT-2's byte alphabet");
                if (!idOfString.TryAdd(key, id))
                    throw new TokenizerFormatException($"{encoderJsonPath}: key '{UntrustedText.Excerpt(key)}' appears twice");
                vocabulary.Add(new(bytes, id));
            }
        }

        var merges = ReadMerges(vocabBpePath, idOfString);
        try
        {
            return BpeTokenizer.FromMerges(vocabulary, merges, SplitPattern.Gpt2, specials, name);
        }
        catch (ArgumentException e)
        {
            throw new TokenizerFormatException($"{encoderJsonPath} + {vocabBpePath}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }

    private static List<(byte[] Left, byte[] Right)> ReadMerges(string path, Dictionary<string, int> idOfString)
    {
        var merges = new List<(byte[], byte[])>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
                throw new TokenizerFormatException($"{path}:{lineNumber}: expected '<left> <right>', got '{UntrustedText.Excerpt(line)}'");
            string left = line[..space], right = line[(space + 1)..];
            foreach (string part in new[] { left, right, left + right })
            {
                if (!idOfString.ContainsKey(part))
                    throw new TokenizerFormatException($"{path}:{lineNumber}: '{UntrustedText.Excerpt(part)}' is not a token of encoder.json");
            }
            merges.Add((ByteLevelCharacters.TryDecode(left, out _)!, ByteLevelCharacters.TryDecode(right, out _)!));
        }
        return merges;
    }
}
