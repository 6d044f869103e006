using System.Text.Encodings.Web;
using System.Text.Json;
using LmForge.Tokenization.Training;

namespace LmForge.Tokenization.Saving;

/// <summary>
/// Writes a trained byte-level BPE as a Hugging Face <c>tokenizer.json</c>: a BPE model (vocab of byte-level
/// strings → id, merges in learning order as "left right"), pre-tokenizer Sequence[Split(the pattern, Isolated),
/// ByteLevel(use_regex = false)], ByteLevel decoder, and the special tokens as added_tokens (special = true).
/// Hugging Face tokenizers loads it as is, and so does any reader of that format.
/// </summary>
public static class HuggingFaceTokenizerWriter
{
    static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Copies a tokenizer.json with more special tokens in its added_tokens (ids chosen by the caller, e.g.
    /// <c>ChatTemplate.WithChatMarkers</c>); everything else in the file is kept as it is.
    /// </summary>
    public static void WriteWithAddedTokens(string sourcePath, string path, IReadOnlyDictionary<string, int> added)
    {
        var root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(sourcePath))?.AsObject()
            ?? throw new TokenizerFormatException($"{sourcePath}: not a JSON object");
        if (root["added_tokens"] is not System.Text.Json.Nodes.JsonArray list)
            root["added_tokens"] = list = [];
        foreach (var (content, id) in added.OrderBy(a => a.Value))
        {
            list.Add(new System.Text.Json.Nodes.JsonObject
            {
                ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = true,
            });
        }
        AtomicFile.WriteText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }

    public static void Write(TrainedBpe bpe, string path) =>
        AtomicFile.Write(path, stream => Write(bpe, stream));

    public static void Write(TrainedBpe bpe, Stream stream)
    {
        using var json = new Utf8JsonWriter(stream, Options);
        var tokenStrings = bpe.TokenBytes.Select(b => ByteLevelCharacters.Encode(b)).ToArray();

        json.WriteStartObject();
        json.WriteString("version", "1.0");
        json.WriteNull("truncation");
        json.WriteNull("padding");

        json.WriteStartArray("added_tokens");
        foreach (var (content, id) in bpe.SpecialTokens.OrderBy(s => s.Value))
        {
            json.WriteStartObject();
            json.WriteNumber("id", id);
            json.WriteString("content", content);
            json.WriteBoolean("single_word", false);
            json.WriteBoolean("lstrip", false);
            json.WriteBoolean("rstrip", false);
            json.WriteBoolean("normalized", false);
            json.WriteBoolean("special", true);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        json.WriteNull("normalizer");

        json.WriteStartObject("pre_tokenizer");
        json.WriteString("type", "Sequence");
        json.WriteStartArray("pretokenizers");
        json.WriteStartObject();
        json.WriteString("type", "Split");
        json.WriteStartObject("pattern");
        json.WriteString("Regex", bpe.Pattern.Regex);
        json.WriteEndObject();
        json.WriteString("behavior", "Isolated");
        json.WriteBoolean("invert", false);
        json.WriteEndObject();
        json.WriteStartObject();
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", true);
        json.WriteBoolean("use_regex", false);
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();

        json.WriteNull("post_processor");

        json.WriteStartObject("decoder");
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", true);
        json.WriteBoolean("trim_offsets", true);
        json.WriteBoolean("use_regex", true);
        json.WriteEndObject();

        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteNull("dropout");
        json.WriteNull("unk_token");
        json.WriteNull("continuing_subword_prefix");
        json.WriteNull("end_of_word_suffix");
        json.WriteBoolean("fuse_unk", false);
        json.WriteBoolean("byte_fallback", false);
        json.WriteBoolean("ignore_merges", false);
        json.WriteStartObject("vocab");
        for (int id = 0; id < tokenStrings.Length; id++)
            json.WriteNumber(tokenStrings[id], id);
        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var (left, right, _) in bpe.Merges)
            json.WriteStringValue(tokenStrings[left] + " " + tokenStrings[right]);
        json.WriteEndArray();
        json.WriteEndObject();

        json.WriteEndObject();
    }
}
