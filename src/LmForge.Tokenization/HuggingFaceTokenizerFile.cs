using System.Text.Json;

namespace LmForge.Tokenization;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> whose model is a byte-level BPE (GPT-2 style, or one written by the
/// LmForge trainer): <c>model.vocab</c>, <c>model.merges</c> ("a b" strings or [a, b] pairs), <c>model.ignore_merges</c>,
/// <c>added_tokens</c> (as special tokens), and the pre-tokenizer: ByteLevel with its GPT-2 regex, or
/// Sequence[Split(Regex, Isolated or inverted Removed), ByteLevel(use_regex = false)].
/// </summary>
public static class HuggingFaceTokenizerFile
{
    /// <exception cref="TokenizerFormatException">The file is malformed or uses what a byte-level BPE does not
    /// (a normalizer, byte fallback, subword prefixes...); the message names the file and the JSON path.</exception>
    public static BpeTokenizer Load(string path, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new TokenizerFormatException($"{path}: not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            var reader = new Reader(path);
            return reader.Read(document.RootElement, name ?? Path.GetFileNameWithoutExtension(path));
        }
    }

    private sealed class Reader(string file)
    {
        private TokenizerFormatException Error(string jsonPath, string message) => new($"{file}: {jsonPath}: {message}");

        private JsonElement Property(JsonElement parent, string parentPath, string name, JsonValueKind kind)
        {
            if (parent.ValueKind != JsonValueKind.Object) throw Error(parentPath, $"expected an object, got {parent.ValueKind}");
            if (!parent.TryGetProperty(name, out var value)) throw Error($"{parentPath}.{name}", "missing");
            if (value.ValueKind != kind) throw Error($"{parentPath}.{name}", $"expected {kind}, got {value.ValueKind}");
            return value;
        }

        private static bool IsNullOrAbsent(JsonElement parent, string name) =>
            !parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null;

        private bool Flag(JsonElement parent, string parentPath, string name, bool defaultValue)
        {
            if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return defaultValue;
            if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw Error($"{parentPath}.{name}", $"expected true or false, got {value.GetRawText()}");
            return value.GetBoolean();
        }

        public BpeTokenizer Read(JsonElement root, string name)
        {
            if (root.ValueKind != JsonValueKind.Object) throw Error("$", $"expected an object, got {root.ValueKind}");
            if (!IsNullOrAbsent(root, "normalizer")) throw Error("$.normalizer", "a normalizer is not supported by a byte-level BPE (expected null)");

            var model = Property(root, "$", "model", JsonValueKind.Object);
            if (model.TryGetProperty("type", out var type) && type.GetString() != "BPE")
                throw Error("$.model.type", $"expected \"BPE\", got {type.GetRawText()}");
            if (Flag(model, "$.model", "byte_fallback", false)) throw Error("$.model.byte_fallback", "byte fallback is not a byte-level BPE (expected false)");
            foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            {
                if (model.TryGetProperty(affix, out var value) && value.ValueKind != JsonValueKind.Null && value.GetString() is { Length: > 0 })
                    throw Error($"$.model.{affix}", $"expected null or \"\", got {value.GetRawText()}");
            }
            bool ignoreMerges = Flag(model, "$.model", "ignore_merges", false);

            var specials = new Dictionary<string, int>(StringComparer.Ordinal);
            if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind != JsonValueKind.Null)
            {
                if (added.ValueKind != JsonValueKind.Array) throw Error("$.added_tokens", $"expected an array, got {added.ValueKind}");
                int index = 0;
                foreach (var token in added.EnumerateArray())
                {
                    string at = $"$.added_tokens[{index++}]";
                    var content = Property(token, at, "content", JsonValueKind.String).GetString()!;
                    var idElement = Property(token, at, "id", JsonValueKind.Number);
                    if (!idElement.TryGetInt32(out int id) || id < 0) throw Error($"{at}.id", $"expected a non-negative integer, got {idElement.GetRawText()}");
                    if (!specials.TryAdd(content, id)) throw Error($"{at}.content", $"'{content}' is added twice");
                }
            }

            var vocabElement = Property(model, "$.model", "vocab", JsonValueKind.Object);
            var vocabulary = new List<KeyValuePair<byte[], int>>();
            var bytesOf = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var entry in vocabElement.EnumerateObject())
            {
                string at = $"$.model.vocab['{entry.Name}']";
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                    throw Error(at, $"expected a non-negative integer id, got {entry.Value.GetRawText()}");
                if (specials.TryGetValue(entry.Name, out int specialId))
                {
                    if (specialId != id) throw Error(at, $"id {id} differs from the added token's id {specialId}");
                    continue;
                }
                byte[] bytes = ByteLevelCharacters.TryDecode(entry.Name, out int bad)
                    ?? throw Error(at, $"character U+{(int)entry.Name[bad]:X4} at index {bad} is not in the byte-level alphabet");
                if (!bytesOf.TryAdd(entry.Name, bytes)) throw Error(at, "appears twice");
                vocabulary.Add(new(bytes, id));
            }

            var mergesElement = Property(model, "$.model", "merges", JsonValueKind.Array);
            var merges = new List<(byte[] Left, byte[] Right)>(mergesElement.GetArrayLength());
            int m = 0;
            foreach (var merge in mergesElement.EnumerateArray())
            {
                string at = $"$.model.merges[{m++}]";
                string? left, right;
                if (merge.ValueKind == JsonValueKind.String)
                {
                    string text = merge.GetString()!;
                    int space = text.IndexOf(' ');
                    if (space <= 0 || space == text.Length - 1 || text.IndexOf(' ', space + 1) >= 0) throw Error(at, $"expected \"<left> <right>\", got \"{text}\"");
                    left = text[..space];
                    right = text[(space + 1)..];
                }
                else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2 && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
                {
                    left = merge[0].GetString();
                    right = merge[1].GetString();
                }
                else
                {
                    throw Error(at, $"expected \"<left> <right>\" or [left, right], got {merge.GetRawText()}");
                }
                if (!bytesOf.TryGetValue(left!, out var leftBytes)) throw Error(at, $"'{left}' is not in model.vocab");
                if (!bytesOf.TryGetValue(right!, out var rightBytes)) throw Error(at, $"'{right}' is not in model.vocab");
                if (!bytesOf.ContainsKey(left + right)) throw Error(at, $"the merged token '{left + right}' is not in model.vocab");
                merges.Add((leftBytes, rightBytes));
            }

            var pattern = ReadPreTokenizer(root);
            try
            {
                return BpeTokenizer.FromMerges(vocabulary, merges, pattern, specials, name, ignoreMerges);
            }
            catch (ArgumentException e)
            {
                throw new TokenizerFormatException($"{file}: {e.Message}", e);
            }
        }

        private SplitPattern ReadPreTokenizer(JsonElement root)
        {
            var pre = Property(root, "$", "pre_tokenizer", JsonValueKind.Object);
            string type = Property(pre, "$.pre_tokenizer", "type", JsonValueKind.String).GetString()!;
            if (type == "ByteLevel")
            {
                CheckByteLevel(pre, "$.pre_tokenizer", expectRegex: true);
                return SplitPattern.Gpt2;
            }
            if (type != "Sequence") throw Error("$.pre_tokenizer.type", $"expected \"ByteLevel\" or \"Sequence\", got \"{type}\"");
            var steps = Property(pre, "$.pre_tokenizer", "pretokenizers", JsonValueKind.Array);
            if (steps.GetArrayLength() != 2)
                throw Error("$.pre_tokenizer.pretokenizers", $"expected [Split, ByteLevel], got {steps.GetArrayLength()} steps");
            var split = steps[0];
            string at = "$.pre_tokenizer.pretokenizers[0]";
            string splitType = Property(split, at, "type", JsonValueKind.String).GetString()!;
            if (splitType != "Split") throw Error($"{at}.type", $"expected \"Split\", got \"{splitType}\"");
            var patternElement = Property(split, at, "pattern", JsonValueKind.Object);
            string regex = Property(patternElement, $"{at}.pattern", "Regex", JsonValueKind.String).GetString()!;
            // Isolated (matches and the text between them are pieces) or Removed + invert (the matches are the
            // pieces): the same for a pattern that matches everywhere, which a byte-level pattern does.
            string behavior = split.TryGetProperty("behavior", out var b) && b.ValueKind == JsonValueKind.String ? b.GetString()! : "";
            bool invert = Flag(split, at, "invert", false);
            if (!(behavior == "Isolated" && !invert) && !(behavior == "Removed" && invert))
                throw Error($"{at}.behavior", $"expected \"Isolated\" (invert false) or \"Removed\" (invert true), got \"{behavior}\" with invert {invert.ToString().ToLowerInvariant()}");
            var byteLevel = steps[1];
            string byteLevelType = Property(byteLevel, "$.pre_tokenizer.pretokenizers[1]", "type", JsonValueKind.String).GetString()!;
            if (byteLevelType != "ByteLevel") throw Error("$.pre_tokenizer.pretokenizers[1].type", $"expected \"ByteLevel\", got \"{byteLevelType}\"");
            CheckByteLevel(byteLevel, "$.pre_tokenizer.pretokenizers[1]", expectRegex: false);
            try
            {
                return SplitPattern.FromRegex(regex);
            }
            catch (ArgumentException e)
            {
                throw Error($"{at}.pattern.Regex", e.Message);
            }
        }

        private void CheckByteLevel(JsonElement element, string at, bool expectRegex)
        {
            if (Flag(element, at, "add_prefix_space", false)) throw Error($"{at}.add_prefix_space", "true is not supported (expected false)");
            if (Flag(element, at, "use_regex", true) != expectRegex) throw Error($"{at}.use_regex", $"expected {(expectRegex ? "true" : "false")}");
        }
    }
}
