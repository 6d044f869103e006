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
