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
            throw new TokenizerFormatException($"{path}: not valid JSON at {UntrustedText.JsonError(e)}", e);
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

        // A string value, or one line saying why it is not one (a lone surrogate escape or invalid UTF-8 is not text).
        private string Text(JsonElement value, string at)
        {
            if (value.ValueKind != JsonValueKind.String) throw Error(at, $"expected a string, got {UntrustedText.Json(value)}");
            try
            {
                return value.GetString()!;
            }
            catch (InvalidOperationException e)
            {
                throw Error(at, $"not valid text ({OneLine(e.Message)})");
            }
        }

        private string StringProperty(JsonElement parent, string parentPath, string name) =>
            Text(Property(parent, parentPath, name, JsonValueKind.String), $"{parentPath}.{name}");

        private string NameOf(JsonProperty property, string at)
        {
            try
            {
                return property.Name;
            }
            catch (InvalidOperationException e)
            {
                throw Error(at, $"a key is not valid text ({OneLine(e.Message)})");
            }
        }

        private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

        // Ids number the file's tokens: one may exceed their count by BpeTokenizer.MaxUnusedIds at most (gaps are legal),
        // so no id in a damaged file can make the tokenizer allocate by it.
        private void CheckId(int id, int tokenCount, string at)
        {
            if (id >= tokenCount + BpeTokenizer.MaxUnusedIds)
                throw Error(at, $"id {id} is out of range: the file has {tokenCount} tokens, so ids must be below {tokenCount + BpeTokenizer.MaxUnusedIds}");
        }

        private static bool IsNullOrAbsent(JsonElement parent, string name) =>
            !parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null;

        private bool Flag(JsonElement parent, string parentPath, string name, bool defaultValue)
        {
            if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return defaultValue;
            if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw Error($"{parentPath}.{name}", $"expected true or false, got {UntrustedText.Json(value)}");
            return value.GetBoolean();
        }

        public BpeTokenizer Read(JsonElement root, string name)
        {
            if (root.ValueKind != JsonValueKind.Object) throw Error("$", $"expected an object, got {root.ValueKind}");
            if (!IsNullOrAbsent(root, "normalizer")) throw Error("$.normalizer", "a normalizer is not supported by a byte-level BPE (expected null)");

            var model = Property(root, "$", "model", JsonValueKind.Object);
            if (model.TryGetProperty("type", out var type) && (type.ValueKind != JsonValueKind.String || Text(type, "$.model.type") != "BPE"))
                throw Error("$.model.type", $"expected \"BPE\", got {UntrustedText.Json(type)}");
            if (Flag(model, "$.model", "byte_fallback", false)) throw Error("$.model.byte_fallback", "byte fallback is not a byte-level BPE (expected false)");
            foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            {
                if (model.TryGetProperty(affix, out var value) && value.ValueKind != JsonValueKind.Null
                    && (value.ValueKind != JsonValueKind.String || Text(value, $"$.model.{affix}") is { Length: > 0 }))
                    throw Error($"$.model.{affix}", $"expected null or \"\", got {UntrustedText.Json(value)}");
            }
            bool ignoreMerges = Flag(model, "$.model", "ignore_merges", false);

            var vocabElement = Property(model, "$.model", "vocab", JsonValueKind.Object);
            int tokenCount = vocabElement.EnumerateObject().Count();
            var specials = new Dictionary<string, int>(StringComparer.Ordinal);
            if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind != JsonValueKind.Null)
            {
                if (added.ValueKind != JsonValueKind.Array) throw Error("$.added_tokens", $"expected an array, got {added.ValueKind}");
                tokenCount += added.GetArrayLength();
                int index = 0;
                foreach (var token in added.EnumerateArray())
                {
                    string at = $"$.added_tokens[{index++}]";
                    var content = StringProperty(token, at, "content");
                    var idElement = Property(token, at, "id", JsonValueKind.Number);
                    if (!idElement.TryGetInt32(out int id) || id < 0) throw Error($"{at}.id", $"expected a non-negative integer, got {UntrustedText.Json(idElement)}");
                    CheckId(id, tokenCount, $"{at}.id");
                    if (!specials.TryAdd(content, id)) throw Error($"{at}.content", $"'{UntrustedText.Excerpt(content)}' is added twice");
                }
            }

            var vocabulary = new List<KeyValuePair<byte[], int>>();
            var bytesOf = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var entry in vocabElement.EnumerateObject())
            {
                string key = NameOf(entry, "$.model.vocab");
                string at = $"$.model.vocab['{UntrustedText.Excerpt(key)}']";
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                    throw Error(at, $"expected a non-negative integer id, got {UntrustedText.Json(entry.Value)}");
                CheckId(id, tokenCount, at);
                if (specials.TryGetValue(key, out int specialId))
                {
                    if (specialId != id) throw Error(at, $"id {id} differs from the added token's id {specialId}");
                    continue;
                }
                byte[] bytes = ByteLevelCharacters.TryDecode(key, out int bad)
                    ?? throw Error(at, $"character U+{(int)key[bad]:X4} at index {bad} is not in the byte-level alphabet");
                if (!bytesOf.TryAdd(key, bytes)) throw Error(at, "appears twice");
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
                    string text = Text(merge, at);
                    int space = text.IndexOf(' ');
                    if (space <= 0 || space == text.Length - 1 || text.IndexOf(' ', space + 1) >= 0) throw Error(at, $"expected \"<left> <right>\", got \"{UntrustedText.Excerpt(text)}\"");
                    left = text[..space];
                    right = text[(space + 1)..];
                }
                else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2 && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
                {
                    left = Text(merge[0], $"{at}[0]");
                    right = Text(merge[1], $"{at}[1]");
                }
                else
                {
                    throw Error(at, $"expected \"<left> <right>\" or [left, right], got {UntrustedText.Json(merge)}");
                }
                if (!bytesOf.TryGetValue(left!, out var leftBytes)) throw Error(at, $"'{UntrustedText.Excerpt(left!)}' is not in model.vocab");
                if (!bytesOf.TryGetValue(right!, out var rightBytes)) throw Error(at, $"'{UntrustedText.Excerpt(right!)}' is not in model.vocab");
                if (!bytesOf.ContainsKey(left + right)) throw Error(at, $"the merged token '{UntrustedText.Excerpt(left + right)}' is not in model.vocab");
                merges.Add((leftBytes, rightBytes));
            }

            var pattern = ReadPreTokenizer(root);
            try
            {
                return BpeTokenizer.FromMerges(vocabulary, merges, pattern, specials, name, ignoreMerges);
            }
            catch (ArgumentException e)
            {
                throw new TokenizerFormatException($"{file}: {OneLine(e.Message)}", e);
            }
        }

        private SplitPattern ReadPreTokenizer(JsonElement root)
        {
            var pre = Property(root, "$", "pre_tokenizer", JsonValueKind.Object);
            string type = StringProperty(pre, "$.pre_tokenizer", "type");
            if (type == "ByteLevel")
            {
                CheckByteLevel(pre, "$.pre_tokenizer", expectRegex: true);
                return SplitPattern.Gpt2;
            }
            if (type != "Sequence") throw Error("$.pre_tokenizer.type", $"expected \"ByteLevel\" or \"Sequence\", got \"{UntrustedText.Excerpt(type)}\"");
            var steps = Property(pre, "$.pre_tokenizer", "pretokenizers", JsonValueKind.Array);
            if (steps.GetArrayLength() != 2)
                throw Error("$.pre_tokenizer.pretokenizers", $"expected [Split, ByteLevel], got {steps.GetArrayLength()} steps");
            var split = steps[0];
            string at = "$.pre_tokenizer.pretokenizers[0]";
            string splitType = StringProperty(split, at, "type");
            if (splitType != "Split") throw Error($"{at}.type", $"expected \"Split\", got \"{UntrustedText.Excerpt(splitType)}\"");
            var patternElement = Property(split, at, "pattern", JsonValueKind.Object);
            string regex = StringProperty(patternElement, $"{at}.pattern", "Regex");
            // Isolated (matches and the text between them are pieces) or Removed + invert (the matches are the
            // pieces): the same for a pattern that matches everywhere, which a byte-level pattern does.
            string behavior = split.TryGetProperty("behavior", out var b) && b.ValueKind == JsonValueKind.String ? Text(b, $"{at}.behavior") : "";
            bool invert = Flag(split, at, "invert", false);
            if (!(behavior == "Isolated" && !invert) && !(behavior == "Removed" && invert))
                throw Error($"{at}.behavior", $"expected \"Isolated\" (invert false) or \"Removed\" (invert true), got \"{UntrustedText.Excerpt(behavior)}\" with invert {invert.ToString().ToLowerInvariant()}");
            var byteLevel = steps[1];
            string byteLevelType = StringProperty(byteLevel, "$.pre_tokenizer.pretokenizers[1]", "type");
            if (byteLevelType != "ByteLevel") throw Error("$.pre_tokenizer.pretokenizers[1].type", $"expected \"ByteLevel\", got \"{UntrustedText.Excerpt(byteLevelType)}\"");
            CheckByteLevel(byteLevel, "$.pre_tokenizer.pretokenizers[1]", expectRegex: false);
            try
            {
                return SplitPattern.FromRegex(regex);
            }
            catch (ArgumentException e)
            {
                throw Error($"{at}.pattern.Regex", OneLine(e.Message));
            }
        }

        private void CheckByteLevel(JsonElement element, string at, bool expectRegex)
        {
            if (Flag(element, at, "add_prefix_space", false)) throw Error($"{at}.add_prefix_space", "true is not supported (expected false)");
            if (Flag(element, at, "use_regex", true) != expectRegex) throw Error($"{at}.use_regex", $"expected {(expectRegex ? "true" : "false")}");
        }
    }
}
