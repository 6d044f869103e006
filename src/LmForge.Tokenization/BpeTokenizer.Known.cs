namespace LmForge.Tokenization;

public sealed partial class BpeTokenizer
{
    /// <summary>GPT-2 (tiktoken "gpt2") from its rank file (gpt2.tiktoken, or converted from encoder.json).</summary>
    public static BpeTokenizer Gpt2(string rankFilePath) => FromTiktokenFile(rankFilePath, SplitPattern.Gpt2,
        new Dictionary<string, int> { ["<|endoftext|>"] = 50256 }, "gpt2");

    /// <summary>cl100k_base (GPT-3.5, GPT-4) from cl100k_base.tiktoken.</summary>
    public static BpeTokenizer Cl100k(string rankFilePath) => FromTiktokenFile(rankFilePath, SplitPattern.Cl100k,
        new Dictionary<string, int>
        {
            ["<|endoftext|>"] = 100257,
            ["<|fim_prefix|>"] = 100258,
            ["<|fim_middle|>"] = 100259,
            ["<|fim_suffix|>"] = 100260,
            ["<|endofprompt|>"] = 100276,
        }, "cl100k_base");

    /// <summary>o200k_base (GPT-4o) from o200k_base.tiktoken.</summary>
    public static BpeTokenizer O200k(string rankFilePath) => FromTiktokenFile(rankFilePath, SplitPattern.O200k,
        new Dictionary<string, int> { ["<|endoftext|>"] = 199999, ["<|endofprompt|>"] = 200018 }, "o200k_base");

    /// <summary>A tokenizer from any tiktoken rank file, with its split pattern and special tokens.</summary>
    /// <exception cref="TokenizerFormatException">The file is malformed (the message names file and line).</exception>
    public static BpeTokenizer FromTiktokenFile(string rankFilePath, SplitPattern pattern,
        IReadOnlyDictionary<string, int>? specialTokens = null, string? name = null)
    {
        var ranks = TiktokenRankFile.Read(rankFilePath);
        try
        {
            return FromRanks(ranks, pattern, specialTokens, name ?? Path.GetFileNameWithoutExtension(rankFilePath));
        }
        catch (ArgumentException e)
        {
            throw new TokenizerFormatException($"{rankFilePath}: {e.Message}", e);
        }
    }
}
