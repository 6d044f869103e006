using System.Text;
using LmForge.Tokenization;

namespace LmForge.Tokenization.Tests;

// Every file reader rejects malformed input with one line naming the file and the line / key / JSON path.
public sealed class LoaderBadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lmforge-tok-bad-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, content, new UTF8Encoding(false));
        return path;
    }

    private static string ValidRankLines()
    {
        var sb = new StringBuilder();
        foreach (var (bytes, rank) in TinyTokenizer.Ranks()) sb.Append(Convert.ToBase64String(bytes)).Append(' ').Append(rank).Append('\n');
        return sb.ToString();
    }

    [Fact]
    public void TiktokenFile_RoundTripsThroughWriteAndRead()
    {
        string path = Path.Combine(_dir, "tiny.tiktoken");
        TiktokenRankFile.Write(path, TinyTokenizer.Ranks());
        var tokenizer = BpeTokenizer.FromTiktokenFile(path, SplitPattern.Gpt2);
        Assert.Equal("tiny", tokenizer.Name);
        Assert.Equal([TinyTokenizer.Abc], tokenizer.Encode("abc"));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Theory]
    [InlineData("YWI=\n", 260, "expected '<base64 token> <rank>'")]
    [InlineData("YWI= x\n", 260, "rank 'x' is not a non-negative integer")]
    [InlineData("YWI= -3\n", 260, "rank '-3' is not a non-negative integer")]
    [InlineData("@@@ 700\n", 260, "token '@@@' is not non-empty base64")]
    [InlineData("YWI= 1 2\n", 260, "expected '<base64 token> <rank>'")]
    [InlineData("eHk= 256\n", 260, "rank 256 already given on line 257")]
    [InlineData("YWI= 900\n", 260, "token 'YWI=' already given on line 257")]
    public void TiktokenFile_MalformedLine_NamesFileAndLine(string badLine, int lineNumber, string expected)
    {
        string path = Write("bad.tiktoken", ValidRankLines() + badLine);
        var e = Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromTiktokenFile(path, SplitPattern.Gpt2));
        Assert.Contains($"{path}:{lineNumber}: {expected}", e.Message);
    }

    [Fact]
    public void TiktokenFile_MissingByte_NamesFileAndByte()
    {
        string path = Write("short.tiktoken", string.Join('\n', ValidRankLines().Split('\n').Skip(1)));
        var e = Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromTiktokenFile(path, SplitPattern.Gpt2));
        Assert.Contains(path, e.Message);
        Assert.Contains("lacks the single byte 0x00", e.Message);
        Assert.Throws<FileNotFoundException>(() => BpeTokenizer.Cl100k(Path.Combine(_dir, "absent.tiktoken")));
    }

    // A GPT-2-style vocabulary over the byte-level alphabet: 256 single bytes, then "ab".
    private (string Encoder, string Vocab) Gpt2Files(string? encoderOverride = null, string? vocabOverride = null)
    {
        var entries = new List<string>();
        for (int b = 0; b < 256; b++) entries.Add($"{System.Text.Json.JsonSerializer.Serialize(ByteLevelCharacters.Encode([(byte)b]))}: {b}");
        entries.Add("\"ab\": 256");
        entries.Add("\"<|endoftext|>\": 257");
        string encoder = Write("encoder.json", encoderOverride ?? "{" + string.Join(",", entries) + "}");
        string vocab = Write("vocab.bpe", vocabOverride ?? "#version: 0.2\na b\n");
        return (encoder, vocab);
    }

    [Fact]
    public void Gpt2Files_Valid_Load()
    {
        var (encoder, vocab) = Gpt2Files();
        var tokenizer = Gpt2VocabularyFiles.Load(encoder, vocab);
        Assert.Equal([256, 99], tokenizer.Encode("abc"));
        Assert.Equal(257, tokenizer.GetSpecialTokenId("<|endoftext|>"));
    }

    [Theory]
    [InlineData("{\"ab\": 1", "not valid JSON")]
    [InlineData("[1, 2]", "expected a JSON object")]
    [InlineData("{\"ab\": \"x\"}", "key 'ab': expected a non-negative integer id")]
    [InlineData("{\"a b\": 3}", "key 'a b': character U+0020 at index 1 is not in GPT-2's byte alphabet")]
    public void Gpt2Files_BadEncoderJson_NamesFileAndKey(string encoderJson, string expected)
    {
        var (encoder, vocab) = Gpt2Files(encoderOverride: encoderJson);
        var e = Assert.Throws<TokenizerFormatException>(() => Gpt2VocabularyFiles.Load(encoder, vocab));
        Assert.Contains(encoder, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("#version: 0.2\nab\n", 2, "expected '<left> <right>', got 'ab'")]
    [InlineData("#version: 0.2\na b\nab q\n", 3, "'abq' is not a token of encoder.json")]
    [InlineData("#version: 0.2\na b c\n", 2, "expected '<left> <right>'")]
    public void Gpt2Files_BadVocabBpe_NamesFileAndLine(string vocabText, int line, string expected)
    {
        var (encoder, vocab) = Gpt2Files(vocabOverride: vocabText);
        var e = Assert.Throws<TokenizerFormatException>(() => Gpt2VocabularyFiles.Load(encoder, vocab));
        Assert.Contains($"{vocab}:{line}: {expected}", e.Message);
    }

    private static string HfJson(string vocab = "VOCAB", string merges = "[\"a b\"]", string pre = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}",
        string normalizer = "null", string added = "[{\"id\": 257, \"content\": \"<|endoftext|>\", \"special\": true}]", string modelExtra = "")
    {
        var entries = new List<string>();
        for (int b = 0; b < 256; b++) entries.Add($"{System.Text.Json.JsonSerializer.Serialize(ByteLevelCharacters.Encode([(byte)b]))}: {b}");
        entries.Add("\"ab\": 256");
        string vocabJson = vocab == "VOCAB" ? "{" + string.Join(",", entries) + "}" : vocab;
        return $"{{\"added_tokens\": {added}, \"normalizer\": {normalizer}, \"pre_tokenizer\": {pre}, " +
               $"\"model\": {{\"type\": \"BPE\", {modelExtra}\"vocab\": {vocabJson}, \"merges\": {merges}}}}}";
    }

    [Fact]
    public void HuggingFace_Valid_Load()
    {
        var tokenizer = HuggingFaceTokenizerFile.Load(Write("tokenizer.json", HfJson()));
        Assert.Equal([256, 99], tokenizer.Encode("abc"));
        Assert.Same(SplitPattern.Gpt2, tokenizer.Pattern);
        var split = "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": " +
                    System.Text.Json.JsonSerializer.Serialize(SplitPattern.Cl100k.Regex) + "}, \"behavior\": \"Isolated\", \"invert\": false}, " +
                    "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]}";
        Assert.Same(SplitPattern.Cl100k, HuggingFaceTokenizerFile.Load(Write("split.json", HfJson(pre: split))).Pattern);
    }

    [Theory]
    [InlineData("{\"model\": ", "not valid JSON")]
    [InlineData("[]", "$: expected an object")]
    public void HuggingFace_BadJson(string content, string expected)
    {
        string path = Write("tokenizer.json", content);
        var e = Assert.Throws<TokenizerFormatException>(() => HuggingFaceTokenizerFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    public static TheoryData<string, string> BadHuggingFaceFiles() => new()
    {
        { HfJson(vocab: "[]"), "$.model.vocab: expected Object, got Array" },
        { HfJson(vocab: "{\"a\": -1}"), "$.model.vocab['a']: expected a non-negative integer id" },
        { HfJson(vocab: "{\"a b\": 1}"), "$.model.vocab['a b']: character U+0020 at index 1 is not in the byte-level alphabet" },
        { HfJson(merges: "[\"ab\"]"), "$.model.merges[0]: expected \"<left> <right>\"" },
        { HfJson(merges: "[\"a q\"]"), "$.model.merges[0]: the merged token 'aq' is not in model.vocab" },
        { HfJson(merges: "[\"a \u00ff\u00ff\"]"), "$.model.merges[0]: '\u00ff\u00ff' is not in model.vocab" },
        { HfJson(merges: "[3]"), "$.model.merges[0]: expected \"<left> <right>\" or [left, right]" },
        { HfJson(normalizer: "{\"type\": \"NFC\"}"), "$.normalizer: a normalizer is not supported" },
        { HfJson(pre: "{\"type\": \"Whitespace\"}"), "$.pre_tokenizer.type: expected \"ByteLevel\" or \"Sequence\"" },
        { HfJson(pre: "{\"type\": \"ByteLevel\", \"add_prefix_space\": true}"), "$.pre_tokenizer.add_prefix_space: true is not supported" },
        { HfJson(added: "[{\"content\": \"x\"}]"), "$.added_tokens[0].id: missing" },
        { HfJson(modelExtra: "\"byte_fallback\": true, "), "$.model.byte_fallback" },
        { HfJson(modelExtra: "\"continuing_subword_prefix\": \"##\", "), "$.model.continuing_subword_prefix" },
        { HfJson(pre: "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}, {\"type\": \"ByteLevel\", \"use_regex\": false}]}"),
          "$.pre_tokenizer.pretokenizers[0].pattern.Regex: split pattern 'custom' is not a valid regex" },
    };

    [Theory]
    [MemberData(nameof(BadHuggingFaceFiles))]
    public void HuggingFace_BadField_NamesFileAndJsonPath(string content, string expected)
    {
        string path = Write("tokenizer.json", content);
        var e = Assert.Throws<TokenizerFormatException>(() => HuggingFaceTokenizerFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }
}

// Damaged files as a fuzzer makes them: each is a TokenizerFormatException whose message is one line naming the file,
// never another exception, a stack trace or an allocation sized by a number in the file.
public sealed class DamagedTokenizerFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lmforge-tok-damaged-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteBytes(string name, byte[] content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    private static void AssertOneLine(TokenizerFormatException e, string path, string expected)
    {
        Assert.StartsWith(path, e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.True(e.Message.Length < path.Length + 400, $"{e.Message.Length} characters: {e.Message}");
    }

    private static string ByteVocab(string extra = "")
    {
        var entries = new List<string>();
        for (int b = 0; b < 256; b++) entries.Add($"{System.Text.Json.JsonSerializer.Serialize(ByteLevelCharacters.Encode([(byte)b]))}: {b}");
        entries.Add("\"ab\": 256");
        return "{" + string.Join(",", entries) + extra + "}";
    }

    private static string Hf(string vocab = "", string type = "\"BPE\"", string merges = "[\"a b\"]", string added = "[{\"id\": 257, \"content\": \"<|endoftext|>\", \"special\": true}]") =>
        $"{{\"added_tokens\": {added}, \"normalizer\": null, \"pre_tokenizer\": {{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}}, " +
        $"\"model\": {{\"type\": {type}, \"vocab\": {(vocab.Length == 0 ? ByteVocab() : vocab)}, \"merges\": {merges}}}}}";

    private static readonly string Nested = "{\n" + string.Concat(Enumerable.Range(0, 150).Select(i => $"  \"k{i}\": [1, 2, 3],\n")) + "  \"end\": 0\n}";

    public static TheoryData<string, string> DamagedHuggingFaceFiles() => new()
    {
        { Hf(vocab: ByteVocab(", \"xy\": 2147483647")), "$.model.vocab['xy']: id 2147483647 is out of range" },
        { Hf(vocab: ByteVocab(", \"xy\": 2000000000")), "$.model.vocab['xy']: id 2000000000 is out of range" },
        { Hf(added: "[{\"id\": 2147483647, \"content\": \"<|endoftext|>\"}]"), "$.added_tokens[0].id: id 2147483647 is out of range" },
        { Hf(vocab: ByteVocab(", \"\\ud800\": 300")), "$.model.vocab: " },
        { Hf(added: "[{\"id\": 257, \"content\": \"\\udc00x\"}]"), "$.added_tokens[0].content: " },
        { Hf(type: "3"), "$.model.type: expected \"BPE\", got 3" },
        { Hf(type: Nested), "$.model.type: expected \"BPE\", got {" },
        { Hf(vocab: ByteVocab(", \"xy\": " + Nested)), "$.model.vocab['xy']: expected a non-negative integer id, got {" },
        { Hf(merges: "[" + Nested + "]"), "$.model.merges[0]: expected \"<left> <right>\" or [left, right], got {" },
        { Hf(vocab: ByteVocab(", \"x\\ny\": 300")), "$.model.vocab['x\\u000ay']: character U+000A" },
        { Hf() + "\n" + Nested, "not valid JSON" },
        { "{\"model\": " + Nested.Replace("[1, 2, 3]", "[1, 2, 3") , "not valid JSON" },
    };

    [Theory]
    [MemberData(nameof(DamagedHuggingFaceFiles))]
    public void HuggingFace_Damaged_OneLineNamingTheFile(string content, string expected)
    {
        string path = WriteBytes("tokenizer.json", Encoding.UTF8.GetBytes(content));
        var e = Assert.Throws<TokenizerFormatException>(() => HuggingFaceTokenizerFile.Load(path));
        AssertOneLine(e, path, expected);
    }

    [Fact]
    public void HuggingFace_InvalidUtf8InAString_OneLine()
    {
        byte[] content = Encoding.UTF8.GetBytes(Hf(vocab: ByteVocab(", \"x@y\": 300")));
        int at = Array.IndexOf(content, (byte)'@');
        content[at] = 0xC3; // a lead byte followed by 'y': not UTF-8
        string path = WriteBytes("tokenizer.json", content);
        var e = Assert.Throws<TokenizerFormatException>(() => HuggingFaceTokenizerFile.Load(path));
        AssertOneLine(e, path, "");
    }

    [Fact]
    public void HuggingFace_IdsSlightlyBeyondTheCount_StillLoad()
    {
        // Gaps are legal (tiktoken's o200k_base has its special tokens 20 ids past its ranks); only ids far beyond
        // the file's token count are refused.
        string path = WriteBytes("tokenizer.json", Encoding.UTF8.GetBytes(Hf(added: "[{\"id\": 1000, \"content\": \"<|endoftext|>\"}]")));
        Assert.Equal(1001, HuggingFaceTokenizerFile.Load(path).VocabularySize);
    }

    [Fact]
    public void TiktokenFile_HugeRank_OneLineNamingTheLine()
    {
        var lines = new StringBuilder();
        foreach (var (bytes, rank) in TinyTokenizer.Ranks()) lines.Append(Convert.ToBase64String(bytes)).Append(' ').Append(rank).Append('\n');
        foreach (string huge in new[] { "2147483647", "2000000000" })
        {
            string path = WriteBytes("huge.tiktoken", Encoding.UTF8.GetBytes(lines + "eHk= " + huge + "\n"));
            var e = Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromTiktokenFile(path, SplitPattern.Gpt2));
            AssertOneLine(e, path, $"{path}:260: rank {huge} is out of range");
        }
    }

    [Fact]
    public void TiktokenFile_Garbage_OneLine()
    {
        var random = new Random(15);
        for (int i = 0; i < 20; i++)
        {
            byte[] garbage = new byte[random.Next(1, 4000)];
            random.NextBytes(garbage);
            string path = WriteBytes("garbage.tiktoken", garbage);
            var e = Assert.Throws<TokenizerFormatException>(() => BpeTokenizer.FromTiktokenFile(path, SplitPattern.Gpt2));
            AssertOneLine(e, path, "");
        }
    }

    [Fact]
    public void SpecialTokenIdFarBeyondTheRanks_IsRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => BpeTokenizer.FromRanks(TinyTokenizer.Ranks(), SplitPattern.Gpt2,
            new Dictionary<string, int> { ["<|end|>"] = int.MaxValue }));
        Assert.Contains("id 2147483647 is out of range", e.Message);
        var tiny = TinyTokenizer.Create();
        Assert.Throws<ArgumentException>(() => tiny.WithSpecialTokens(new Dictionary<string, int> { ["<|x|>"] = int.MaxValue }));
    }

    private (string Encoder, string Vocab) Gpt2Files(string encoderExtra)
    {
        string encoder = WriteBytes("encoder.json", Encoding.UTF8.GetBytes(ByteVocab(", \"<|endoftext|>\": 257" + encoderExtra)));
        string vocab = WriteBytes("vocab.bpe", "#version: 0.2\na b\n"u8.ToArray());
        return (encoder, vocab);
    }

    [Theory]
    [InlineData(", \"xy\": 2147483647", "key 'xy': id 2147483647 is out of range")]
    [InlineData(", \"xy\": 2000000000", "key 'xy': id 2000000000 is out of range")]
    [InlineData(", \"\\ud800\": 300", "")]
    [InlineData(", \"xy\": 256", "token id 256 is given twice")]
    public void Gpt2Files_Damaged_OneLineNamingTheFile(string extra, string expected)
    {
        var (encoder, vocab) = Gpt2Files(extra);
        var e = Assert.Throws<TokenizerFormatException>(() => Gpt2VocabularyFiles.Load(encoder, vocab));
        AssertOneLine(e, encoder, expected);
    }

    [Fact]
    public void Gpt2Files_HugeSpecialId_OneLine()
    {
        string encoder = WriteBytes("encoder.json", Encoding.UTF8.GetBytes(ByteVocab(", \"<|endoftext|>\": 2147483647")));
        string vocab = WriteBytes("vocab.bpe", "#version: 0.2\na b\n"u8.ToArray());
        var e = Assert.Throws<TokenizerFormatException>(() => Gpt2VocabularyFiles.Load(encoder, vocab));
        AssertOneLine(e, encoder, "key '<|endoftext|>': id 2147483647 is out of range");
    }
}
