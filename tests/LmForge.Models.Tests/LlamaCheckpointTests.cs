using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tensors.SafeTensors;
using LmForge.Tests.Shared;

namespace LmForge.Models.Tests;

/// <summary>Hugging Face Llama checkpoints: a save/load round trip, and every bad config or tensor as a one-line error.</summary>
public sealed class LlamaCheckpointTests : IDisposable
{
    private static readonly TransformerConfig Tiny = TransformerConfig.Llama(vocabSize: 70, contextLength: 16, layerCount: 2, headCount: 4,
        keyValueHeadCount: 2, width: 16, intermediateSize: 24);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "lmforge-llamackpt-" + Guid.NewGuid().ToString("N"));

    public LlamaCheckpointTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Save_then_load_reproduces_the_model_in_hugging_face_layout()
    {
        var random = new Random(20230828);
        using var model = new TransformerModel(Tiny with { RopeTheta = 500000f, NormEpsilon = 1e-6f });
        model.InitializeWeights(seed: 3);
        int[] tokens = Enumerable.Range(0, 24).Select(_ => random.Next(Tiny.VocabSize)).ToArray();
        model.Forward(tokens, 2, 12);
        float[] logits = model.Logits.ToArray();

        string directory = Path.Combine(_directory, "step-1");
        ModelCheckpoint.Save(model, directory);
        using var restored = ModelCheckpoint.Load(directory);
        Assert.Equal(model.Config, restored.Config);
        Assert.Equal(model.Parameters.ToArray(), restored.Parameters.ToArray());
        restored.Forward(tokens, 2, 12);
        Assert.Equal(logits, restored.Logits.ToArray());

        using var file = SafeTensorsFile.Open(Path.Combine(directory, ModelCheckpoint.WeightsFileName));
        Assert.Equal([16, 16], file.Tensors["model.layers.1.self_attn.q_proj.weight"].Shape);
        Assert.Equal([8, 16], file.Tensors["model.layers.1.self_attn.k_proj.weight"].Shape); // 2 kv heads of 4
        Assert.Equal([24, 16], file.Tensors["model.layers.0.mlp.up_proj.weight"].Shape);
        Assert.Equal([70, 16], file.Tensors["lm_head.weight"].Shape); // the real vocabulary, not the 128 padded rows
        Assert.DoesNotContain(file.Tensors.Keys, n => n.Contains("qkv_proj", StringComparison.Ordinal) || n.Contains("gate_up", StringComparison.Ordinal));
        string config = File.ReadAllText(Path.Combine(directory, ModelCheckpoint.ConfigFileName));
        Assert.Contains("\"model_type\": \"llama\"", config);
        Assert.Contains("\"num_key_value_heads\": 2", config);
        Assert.Contains("\"rope_theta\": 500000", config);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Saving_and_loading_on_a_backend_the_host_cannot_address_gives_the_cpu_models_logits(string family)
    {
        var config = family == "llama" ? Tiny : TransformerConfig.Gpt2(70, 16, 2, 4, 16);
        var backend = new HostlessBackend();
        int[] tokens = Enumerable.Range(0, 16).Select(i => (i * 7) % config.VocabSize).ToArray();
        string directory = Path.Combine(_directory, family + "-hostless");
        using (var model = new TransformerModel(config, backend))
        {
            model.InitializeWeights(seed: 5);
            Assert.Throws<InvalidOperationException>(() => model.Parameters.AsSpan()); // the host really cannot reach it
            ModelCheckpoint.Save(model, directory);
        }
        using var cpu = ModelCheckpoint.Load(directory);
        using var device = ModelCheckpoint.Load(directory, backend);
        cpu.Forward(tokens, 2, 8);
        device.Forward(tokens, 2, 8);
        Assert.Equal(cpu.Logits.ToArray(), device.Backend.ToHost(device.Logits));
        Assert.True(backend.Allocations > 0);
    }

    private const string Fields = "\"model_type\":\"llama\",\"vocab_size\":70,\"hidden_size\":16,\"intermediate_size\":24,\"num_hidden_layers\":2,\"max_position_embeddings\":16";

    public static TheoryData<string, string> BadConfigs => new()
    {
        { "{" + Fields + ",\"num_attention_heads\":3}", "field 'num_attention_heads' is 3, which does not divide 'hidden_size' = 16" },
        { "{" + Fields + ",\"num_attention_heads\":4,\"num_key_value_heads\":3}", "field 'num_key_value_heads' is 3, which does not divide 'num_attention_heads' = 4" },
        { "{" + Fields + ",\"num_attention_heads\":4,\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0}}", "field 'rope_scaling' is {\"rope_type\":\"llama3\",\"factor\":8.0}, expected null" },
        { "{" + Fields + ",\"num_attention_heads\":4,\"hidden_act\":\"gelu\"}", "field 'hidden_act' is \"gelu\", expected \"silu\"" },
        { "{" + Fields + ",\"num_attention_heads\":4,\"attention_bias\":true}", "field 'attention_bias' is true, expected false" },
        { "{" + Fields + ",\"num_attention_heads\":4,\"head_dim\":8}", "field 'head_dim' is 8, expected 4" },
        { "{\"model_type\":\"llama\",\"vocab_size\":70,\"hidden_size\":16,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"max_position_embeddings\":16}", "field 'intermediate_size' is missing" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void Bad_config_is_one_line_naming_file_and_field(string json, string expected)
    {
        string path = Path.Combine(_directory, "config.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.ReadConfig(path));
        Assert.StartsWith(path + ": ", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    public static TheoryData<string, string> BadTensors => new()
    {
        { "k-shape", "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [16, 16], expected [8, 16]" },
        { "missing", "tensor 'model.layers.1.mlp.gate_proj.weight' is missing (expected a Llama with vocabulary 70, width 16, 2 layers, 4 heads, 2 key/value heads, intermediate size 24)" },
        { "unknown", "tensor 'model.layers.0.self_attn.q_proj.bias' is not part of a Llama" },
    };

    [Theory]
    [MemberData(nameof(BadTensors))]
    public void Bad_tensor_is_one_line_and_leaves_the_model_as_it_was(string defect, string expected)
    {
        using var source = new TransformerModel(Tiny);
        source.InitializeWeights(seed: 1);
        string good = Path.Combine(_directory, "good.safetensors");
        ModelCheckpoint.SaveWeights(source, good);
        using var goodFile = SafeTensorsFile.Open(good);
        var entries = new List<SafeTensorEntry>();
        foreach (var info in goodFile.Tensors.Values)
        {
            if (defect == "missing" && info.Name == "model.layers.1.mlp.gate_proj.weight") continue;
            float[] data = goodFile.ReadFloat32(info.Name, info.Shape.ToArray());
            if (defect == "k-shape" && info.Name == "model.layers.0.self_attn.k_proj.weight")
            {
                entries.Add(new SafeTensorEntry(info.Name, [16, 16], new float[256]));
                continue;
            }
            entries.Add(new SafeTensorEntry(info.Name, info.Shape, data));
        }
        if (defect == "unknown") entries.Add(new SafeTensorEntry("model.layers.0.self_attn.q_proj.bias", [16], new float[16]));
        string path = Path.Combine(_directory, defect + ".safetensors");
        SafeTensorsFile.Write(path, entries);

        using var model = new TransformerModel(Tiny);
        model.InitializeWeights(seed: 7);
        float[] before = model.Parameters.ToArray();
        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.LoadWeights(model, path));
        Assert.StartsWith(path + ": ", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal(before, model.Parameters.ToArray());
    }

    [Fact]
    public void A_checkpoint_of_another_family_is_refused_by_its_tensor_names()
    {
        using var gpt2 = new TransformerModel(TransformerConfig.Gpt2(70, 16, 2, 4, 16));
        gpt2.InitializeWeights(seed: 1);
        string path = Path.Combine(_directory, "gpt2.safetensors");
        ModelCheckpoint.SaveWeights(gpt2, path);
        using var llama = new TransformerModel(Tiny);
        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.LoadWeights(llama, path));
        Assert.Contains("is not part of a Llama", error.Message);
    }
}
