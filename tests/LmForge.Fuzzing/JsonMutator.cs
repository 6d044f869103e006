using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LmForge.Fuzzing;

/// <summary>
/// Edits a JSON document in its tree: a value replaced by an edge value (huge, negative, fractional, infinite, of another
/// type, deeply nested, a very long string, a lone surrogate) or by a word of the format (a dtype, a tensor name, a role),
/// a key removed, duplicated or added, an array shortened, emptied, lengthened or given a repeated element.
/// </summary>
static class JsonMutator
{
    static readonly string[] EdgeValues =
    [
        "0", "-1", "1", "2", "-2147483648", "2147483647", "2147483648", "4294967295", "9223372036854775807", "1e309", "-1e309",
        "1.5", "-0.0", "1e-320", "99999999999999999999", "null", "true", "false", "\"\"", "\"x\"", "[]", "{}", "[1,2,3]", "[-1]",
        "[0,2147483647]", "[4294967296]", "[0,0]", "[[1]]", "{\"a\":1}", "\"\\ud800\"", "\"\\u0000\"", "\"a\\nb\"",
        new string('[', 100) + new string(']', 100), "\"" + new string('y', 5000) + "\"", "[" + string.Join(',', Enumerable.Range(0, 2000)) + "]",
    ];

    static readonly string[] FormatWords =
        ["F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL", "F8_E4M3", "gpt2", "llama", "bert", "t5", "user", "assistant", "system",
         "text", "id", "BPE", "ByteLevel", "Sequence", "Split", "__metadata__", "step"];

    static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 512 };

    public static byte[]? Mutate(byte[] json, IReadOnlyList<string> words, Random random, List<string> steps, bool compact = false)
    {
        int before = steps.Count;
        try
        {
            return MutateTree(json, words, random, steps, compact);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException)
        {
            // an edge value the writer cannot re-encode (a lone surrogate): the caller mutates bytes instead
            steps.RemoveRange(before, steps.Count - before);
            return null;
        }
    }

    static byte[]? MutateTree(byte[] json, IReadOnlyList<string> words, Random random, List<string> steps, bool compact)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: ParseOptions);
        }
        catch (JsonException)
        {
            return null; // an earlier byte mutation broke it; the caller mutates bytes instead
        }
        if (root is null) return null;
        var containers = new List<(JsonNode Node, string Path)>();
        var values = new List<(JsonNode? Parent, object Key, string Path)>();
        Collect(root, "$", containers, values);

        JsonNode? duplicateIn = null;
        string? duplicateKey = null;
        switch (random.Next(6))
        {
            case 0 or 1 when values.Count > 0:
            {
                var (parent, key, path) = values[random.Next(values.Count)];
                JsonNode? value = random.Next(3) == 0
                    ? JsonValue.Create(random.Next(3) == 0 ? FormatWords[random.Next(FormatWords.Length)] : Word(words, random))
                    : JsonNode.Parse(EdgeValues[random.Next(EdgeValues.Length)], documentOptions: ParseOptions);
                Set(parent!, key, value);
                steps.Add($"{path} = {Describe(value)}");
                break;
            }
            case 2 when containers.Any(c => c.Node is JsonObject { Count: > 0 }):
            {
                var objects = containers.Where(c => c.Node is JsonObject { Count: > 0 }).ToList();
                var (node, path) = objects[random.Next(objects.Count)];
                var obj = node.AsObject();
                string key = obj.ElementAt(random.Next(obj.Count)).Key;
                if (random.Next(2) == 0)
                {
                    obj.Remove(key);
                    steps.Add($"{path}.{key} removed");
                }
                else
                {
                    (duplicateIn, duplicateKey) = (obj, key);
                    steps.Add($"{path}.{key} duplicated");
                }
                break;
            }
            case 3 when containers.Any(c => c.Node is JsonArray { Count: > 0 }):
            {
                var arrays = containers.Where(c => c.Node is JsonArray { Count: > 0 }).ToList();
                var (node, path) = arrays[random.Next(arrays.Count)];
                var array = node.AsArray();
                switch (random.Next(4))
                {
                    case 0:
                        array.RemoveAt(random.Next(array.Count));
                        steps.Add($"{path}: an element removed");
                        break;
                    case 1:
                        array.Clear();
                        steps.Add($"{path}: emptied");
                        break;
                    case 2:
                    {
                        var element = array[random.Next(array.Count)];
                        int copies = random.Next(2) == 0 ? 1 : 1 + random.Next(100);
                        for (int i = 0; i < copies; i++) array.Add(element?.DeepClone());
                        steps.Add($"{path}: an element repeated {copies}x");
                        break;
                    }
                    default:
                        array.Insert(random.Next(array.Count + 1), JsonNode.Parse(EdgeValues[random.Next(EdgeValues.Length)], documentOptions: ParseOptions));
                        steps.Add($"{path}: an edge value inserted");
                        break;
                }
                break;
            }
            case 4 when containers.Any(c => c.Node is JsonObject):
            {
                var objects = containers.Where(c => c.Node is JsonObject).ToList();
                var (node, path) = objects[random.Next(objects.Count)];
                string key = random.Next(2) == 0 ? Word(words, random) : "unknown_field";
                if (!node.AsObject().ContainsKey(key))
                {
                    node.AsObject()[key] = JsonNode.Parse(EdgeValues[random.Next(EdgeValues.Length)], documentOptions: ParseOptions);
                    steps.Add($"{path}.{key} added");
                    break;
                }
                (duplicateIn, duplicateKey) = (node, key);
                steps.Add($"{path}.{key} duplicated");
                break;
            }
            default:
            {
                // The root itself swapped for another value.
                var value = JsonNode.Parse(EdgeValues[random.Next(EdgeValues.Length)], documentOptions: ParseOptions);
                steps.Add($"$ = {Describe(value)}");
                return Encoding.UTF8.GetBytes(value?.ToJsonString() ?? "null");
            }
        }
        return Write(root, duplicateIn, duplicateKey, compact);
    }

    static string Word(IReadOnlyList<string> words, Random random) =>
        words.Count > 0 ? words[random.Next(words.Count)] : FormatWords[random.Next(FormatWords.Length)];

    static string Describe(JsonNode? value)
    {
        string text = value?.ToJsonString() ?? "null";
        return text.Length <= 40 ? text : $"{text[..20]}...({text.Length} chars)";
    }

    static void Collect(JsonNode node, string path, List<(JsonNode, string)> containers, List<(JsonNode?, object, string)> values)
    {
        switch (node)
        {
            case JsonObject obj:
                containers.Add((obj, path));
                foreach (var (key, child) in obj.ToList())
                {
                    values.Add((obj, key, $"{path}.{key}"));
                    if (child is not null) Collect(child, $"{path}.{key}", containers, values);
                }
                break;
            case JsonArray array:
                containers.Add((array, path));
                for (int i = 0; i < array.Count; i++)
                {
                    values.Add((array, i, $"{path}[{i}]"));
                    if (array[i] is { } child) Collect(child, $"{path}[{i}]", containers, values);
                }
                break;
        }
    }

    static void Set(JsonNode parent, object key, JsonNode? value)
    {
        if (parent is JsonObject obj) obj[(string)key] = value;
        else parent.AsArray()[(int)key] = value;
    }

    // JsonObject cannot hold a key twice, so a duplicated key is written twice as the tree is written.
    static byte[] Write(JsonNode root, JsonNode? duplicateIn, string? duplicateKey, bool compact)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions
               { Indented = !compact, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true, MaxDepth = 1024 }))
        {
            WriteNode(writer, root, duplicateIn, duplicateKey);
        }
        return stream.ToArray();
    }

    static void WriteNode(Utf8JsonWriter writer, JsonNode? node, JsonNode? duplicateIn, string? duplicateKey)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (key, child) in obj)
                {
                    int times = ReferenceEquals(obj, duplicateIn) && key == duplicateKey ? 2 : 1;
                    for (int i = 0; i < times; i++)
                    {
                        writer.WritePropertyName(key);
                        WriteNode(writer, child, duplicateIn, duplicateKey);
                    }
                }
                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var child in array) WriteNode(writer, child, duplicateIn, duplicateKey);
                writer.WriteEndArray();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }
}
