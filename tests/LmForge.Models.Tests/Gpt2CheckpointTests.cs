using System.Text.Json;
using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Models.Tests;

public sealed class Gpt2CheckpointTests : IDisposable
{
    private static readonly TransformerConfig TinyConfig = TransformerConfig.Gpt2(101, 12, 2, 2, 16);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "lmforge-gpt2ckpt-" + Guid.NewGuid().ToString("N"));

    public Gpt2CheckpointTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // tests/reference/gpt2_hf_tiny was written by make_gpt2_hf_checkpoint.py in Hugging Face's layout (transformer.
    // prefix, Conv1D matrices, mask buffers, tied lm_head, HF config.json); its logits come from PyTorch.
    // A checkpoint whose weights hold a NaN (a damaged file, a diverged run saved as is) would give NaN losses and
    // garbage samples with exit code 0: loading it is a one-line error naming the tensor.
    [Fact]
    public void Load_WeightsHoldingNaN_IsAOneLineError()
    {
        using var model = new TransformerModel(TransformerConfig.Gpt2(50, 8, 1, 2, 8));
        model.InitializeWeights(seed: 1);
        model.GetParameter("h.0.mlp.c_fc.weight").AsSpan()[3] = float.NaN;
        string directory = Path.Combine(_directory, "nan");
        ModelCheckpoint.Save(model, directory);
        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(directory));
        Assert.Equal($"{Path.Combine(directory, ModelCheckpoint.WeightsFileName)}: tensor 'h.0.mlp.c_fc.weight' holds NaN, infinite or absurdly large values: the weights are damaged; use another checkpoint", error.Message);
    }

    [Fact]
    public void Load_HuggingFaceLayoutCheckpoint_ReproducesPyTorchLogits()
    {
        using var expected = JsonDocument.Parse(File.ReadAllText(Reference("expected.json")));
        int[][] tokens = expected.RootElement.GetProperty("tokens").EnumerateArray()
            .Select(row => row.EnumerateArray().Select(t => t.GetInt32()).ToArray()).ToArray();
        int batch = tokens.Length, sequence = tokens[0].Length;

        using var model = ModelCheckpoint.Load(Reference(""));
        Assert.Equal(TinyConfig, model.Config);
        model.Forward(tokens.SelectMany(t => t).ToArray(), batch, sequence);
        float[] logits = model.Logits.ToArray();
        int vp = model.Config.PaddedVocabSize, v = model.Config.VocabSize;

        double worst = 0;
        int b = 0;
        foreach (var sequenceLogits in expected.RootElement.GetProperty("logits").EnumerateArray())
        {
            int t = 0;
            foreach (var row in sequenceLogits.EnumerateArray())
            {
                int j = 0;
                foreach (var value in row.EnumerateArray())
                {
                    double reference = value.GetDouble();
                    double actual = logits[((b * sequence) + t) * vp + j];
                    worst = Math.Max(worst, Math.Abs(actual - reference) / Math.Max(1, Math.Abs(reference)));
                    j++;
                }
                Assert.Equal(v, j);
                for (; j < vp; j++) Assert.Equal(0f, logits[((b * sequence) + t) * vp + j]); // padded rows load as zero
                t++;
            }
            b++;
        }
        Assert.True(worst < 1e-4, $"largest relative logit error vs PyTorch {worst:E2}");
    }

    // Save must write what Hugging Face writes: loading the reference checkpoint and saving it again reproduces
    // every weight tensor of the reference file bit for bit, under the same names (without the prefix).
    [Fact]
    public void Save_AfterLoadingHuggingFaceCheckpoint_WritesTheSameTensorsInTheSameLayout()
    {
        using var model = ModelCheckpoint.Load(Reference(""));
        string saved = Path.Combine(_directory, "resaved");
        ModelCheckpoint.Save(model, saved);

        using var reference = SafeTensorsFile.Open(Reference("model.safetensors"));
        using var ours = SafeTensorsFile.Open(Path.Combine(saved, ModelCheckpoint.WeightsFileName));
        Assert.Equal("pt", ours.Metadata["format"]);
        var weights = reference.Tensors.Values.Where(t => t.Name.StartsWith("transformer.", StringComparison.Ordinal) && t.DType == SafeTensorDType.F32
            && !t.Name.EndsWith(".attn.masked_bias", StringComparison.Ordinal)).ToList();
        Assert.Equal(weights.Count, ours.Tensors.Count);
        foreach (var info in weights)
        {
            string name = info.Name["transformer.".Length..];
            Assert.Equal(info.Shape, ours.Tensors[name].Shape);
            int[] shape = info.Shape.ToArray();
            Assert.Equal(reference.ReadFloat32(info.Name, shape), ours.ReadFloat32(name, shape));
        }

        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(saved, "config.json")));
        var root = config.RootElement;
        Assert.Equal("gpt2", root.GetProperty("model_type").GetString());
        Assert.Equal("GPT2LMHeadModel", root.GetProperty("architectures")[0].GetString());
        Assert.Equal(101, root.GetProperty("vocab_size").GetInt32());
        Assert.Equal(12, root.GetProperty("n_positions").GetInt32());
        Assert.Equal(12, root.GetProperty("n_ctx").GetInt32());
        Assert.Equal(16, root.GetProperty("n_embd").GetInt32());
        Assert.Equal(2, root.GetProperty("n_layer").GetInt32());
        Assert.Equal(2, root.GetProperty("n_head").GetInt32());
        Assert.Equal("gelu_new", root.GetProperty("activation_function").GetString());
        Assert.Equal(1e-5, root.GetProperty("layer_norm_epsilon").GetDouble());
        Assert.Single(Directory.EnumerateFiles(_directory, "*", SearchOption.AllDirectories), f => f.EndsWith(".safetensors", StringComparison.Ordinal));
        Assert.Equal(2, Directory.EnumerateFiles(saved).Count());
    }

    [Fact]
    public void SaveThenLoad_RandomModel_IdenticalParametersAndLogits()
    {
        var config = TransformerConfig.Gpt2(300, 20, 3, 4, 32);
        var random = new Random(20230828);
        using var model = RandomModel(config, random);
        int[] tokens = Enumerable.Range(0, 2 * 20).Select(_ => random.Next(config.VocabSize)).ToArray();
        model.Forward(tokens, 2, 20);
        float[] logits = model.Logits.ToArray();

        string directory = Path.Combine(_directory, "step-1");
        ModelCheckpoint.Save(model, directory, new Dictionary<string, string> { ["step"] = "1" });
        using var restored = ModelCheckpoint.Load(directory);
        Assert.Equal(config, restored.Config);
        Assert.Equal(model.Parameters.ToArray(), restored.Parameters.ToArray());
        restored.Forward(tokens, 2, 20);
        Assert.Equal(logits, restored.Logits.ToArray());

        using var file = SafeTensorsFile.Open(Path.Combine(directory, ModelCheckpoint.WeightsFileName));
        Assert.Equal("1", file.Metadata["step"]);
        Assert.Equal([300, 32], file.Tensors["wte.weight"].Shape); // real vocabulary only, not the 384 padded rows
        Assert.Equal([32, 96], file.Tensors["h.2.attn.c_attn.weight"].Shape); // Conv1D (in, out)
        Assert.Equal([128, 32], file.Tensors["h.0.mlp.c_proj.weight"].Shape);
    }

    [Fact]
    public void LoadWeights_CheckpointOfAnotherModelShape_RejectedNamingBothShapes()
    {
        using var small = RandomModel(TinyConfig, new Random(20230828));
        string path = Path.Combine(_directory, "model.safetensors");
        ModelCheckpoint.SaveWeights(small, path);

        using var wider = new TransformerModel(TinyConfig with { Width = 32, IntermediateSize = 128 });
        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.LoadWeights(wider, path));
        Assert.Equal($"{path}: tensor 'wte.weight' has shape [101, 16], expected [101, 32]", error.Message);

        using var deeper = new TransformerModel(TinyConfig with { LayerCount = 3 });
        error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.LoadWeights(deeper, path));
        Assert.Equal($"{path}: tensor 'h.2.ln_1.weight' is missing (expected a GPT-2 with vocabulary 101, width 16, context 12, 3 layers)", error.Message);

        using var shallower = new TransformerModel(TinyConfig with { LayerCount = 1 });
        error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.LoadWeights(shallower, path));
        Assert.Equal($"{path}: tensor 'h.1.attn.c_attn.bias' is not part of a GPT-2 with vocabulary 101, width 16, context 12, 1 layers", error.Message);
    }

    public static TheoryData<string, string> BadTensors => new()
    {
        // which tensor is replaced by what, expected message part
        { "linear-layout", "tensor 'h.0.attn.c_attn.weight' has shape [48, 16], expected [16, 48]" },
        { "int-dtype", "tensor 'h.1.mlp.c_fc.bias' has dtype I32, expected F32, F16, BF16 or F64" },
        { "missing", "tensor 'ln_f.bias' is missing" },
        { "duplicate", "tensor 'wpe.weight' appears both as 'transformer.wpe.weight' and as 'wpe.weight'" },
        { "unknown", "tensor 'h.0.attn.rotary.weight' is not part of a GPT-2" },
    };

    [Theory]
    [MemberData(nameof(BadTensors))]
    public unsafe void LoadWeights_BadTensor_OneLineErrorNamingFileAndTensor(string defect, string expected)
    {
        using var source = RandomModel(TinyConfig, new Random(20230828));
        string good = Path.Combine(_directory, "good.safetensors");
        ModelCheckpoint.SaveWeights(source, good);
        using var goodFile = SafeTensorsFile.Open(good);

        string path = Path.Combine(_directory, $"{defect}.safetensors");
        var entries = new List<SafeTensorEntry>();
        foreach (var info in goodFile.Tensors.Values)
        {
            float[] data = goodFile.ReadFloat32(info.Name, info.Shape.ToArray());
            string name = defect == "duplicate" && info.Name == "wpe.weight" ? "transformer.wpe.weight" : info.Name;
            if (defect == "missing" && name == "ln_f.bias") continue;
            if (defect == "linear-layout" && name == "h.0.attn.c_attn.weight")
            {
                entries.Add(new SafeTensorEntry(name, [48, 16], data));
                continue;
            }
            entries.Add(new SafeTensorEntry(name, info.Shape, data));
        }
        if (defect == "duplicate") entries.Add(new SafeTensorEntry("wpe.weight", [12, 16], new float[12 * 16]));
        if (defect == "unknown") entries.Add(new SafeTensorEntry("h.0.attn.rotary.weight", [4], new float[4]));
        SafeTensorsFile.Write(path, entries);
        if (defect == "int-dtype") path = RewriteAsInt32(path, "h.1.mlp.c_fc.bias");

        using var model = new TransformerModel(TinyConfig);
        model.InitializeWeights(seed: 7);
        float[] before = model.Parameters.ToArray();
        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.LoadWeights(model, path));
        Assert.StartsWith(path + ": ", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal(before, model.Parameters.ToArray()); // nothing was copied from a file that fails
    }

    private const string Gpt2Fields = "\"model_type\":\"gpt2\",\"vocab_size\":101,\"n_embd\":16,\"n_layer\":2,\"n_positions\":12";

    public static TheoryData<string, string> BadConfigs => new()
    {
        { "{\"vocab_size\":101,\"n_embd\":16,\"n_layer\":2,\"n_head\":2,\"n_positions\":12}", "field 'model_type' is missing, expected one of \"gpt2\", \"llama\"" },
        { "{\"model_type\":\"mistral\",\"vocab_size\":101}", "field 'model_type' is \"mistral\", expected one of \"gpt2\", \"llama\"" },
        { "{\"model_type\":\"llama\",\"vocab_size\":101,\"n_embd\":16,\"n_layer\":2,\"n_head\":2,\"n_positions\":12}", "field 'hidden_size' is missing" },
        { "{" + Gpt2Fields + "}", "field 'n_head' is missing" },
        { "{" + Gpt2Fields + ",\"n_head\":3}", "field 'n_head' is 3, which does not divide 'n_embd' = 16" },
        { "{\"model_type\":\"gpt2\",\"vocab_size\":-5,\"n_embd\":16,\"n_layer\":2,\"n_head\":2,\"n_positions\":12}", "field 'vocab_size' is -5, expected a positive integer" },
        { "{\"model_type\":\"gpt2\",\"vocab_size\":101,\"n_embd\":\"16\",\"n_layer\":2,\"n_head\":2,\"n_positions\":12}", "field 'n_embd' is \"16\", expected a positive integer" },
        { "{" + Gpt2Fields + ",\"n_head\":2,\"activation_function\":\"mish\"}", "field 'activation_function' is \"mish\", expected one of gelu_new" },
        { "{" + Gpt2Fields + ",\"n_head\":2,\"layer_norm_epsilon\":-1}", "field 'layer_norm_epsilon' is -1, expected a positive number" },
        { "{" + Gpt2Fields + ",\"n_head\":2,\"n_inner\":0}", "field 'n_inner' is 0, expected a positive integer" },
        { "{" + Gpt2Fields + ",\"n_head\":2,\"tie_word_embeddings\":false}", "field 'tie_word_embeddings' is false, expected true" },
        { "{" + Gpt2Fields + ",\"n_head\":2,\"scale_attn_by_inverse_layer_idx\":true}", "field 'scale_attn_by_inverse_layer_idx' is true, expected false" },
        { "{\"vocab_size\":101,", "not valid JSON" },
        { "[1]", "not a JSON object" },
    };

    // GPT-2 options the transformer implements are read, not refused: another epsilon, MLP width or activation.
    [Fact]
    public void ReadConfig_Gpt2Variants_TakeTheirOptions()
    {
        string path = Path.Combine(_directory, "config.json");
        File.WriteAllText(path, "{" + Gpt2Fields + ",\"n_head\":2,\"layer_norm_epsilon\":1e-6,\"n_inner\":40,\"activation_function\":\"relu\"}");
        var config = ModelCheckpoint.ReadConfig(path);
        Assert.Equal(TinyConfig with { NormEpsilon = 1e-6f, IntermediateSize = 40, Activation = Tensors.Activation.Relu }, config);
        using var model = new TransformerModel(config);
        model.InitializeWeights(seed: 1);
        string saved = Path.Combine(_directory, "variant");
        ModelCheckpoint.Save(model, saved);
        Assert.Equal(config, ModelCheckpoint.ReadConfig(Path.Combine(saved, ModelCheckpoint.ConfigFileName)));
    }

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public void ReadConfig_Bad_OneLineErrorNamingFileAndField(string json, string expected)
    {
        string path = Path.Combine(_directory, "config.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.ReadConfig(path));
        Assert.StartsWith(path + ": ", error.Message);
        Assert.Contains(expected, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void ReadConfig_LegacyNCtxOnly_Accepted()
    {
        string path = Path.Combine(_directory, "config.json");
        File.WriteAllText(path, "{\"model_type\":\"gpt2\",\"vocab_size\":50257,\"n_embd\":768,\"n_layer\":12,\"n_head\":12,\"n_ctx\":1024}");
        Assert.Equal(TransformerConfig.Gpt2Small, ModelCheckpoint.ReadConfig(path));
    }

    private static TransformerModel RandomModel(TransformerConfig config, Random random)
    {
        var model = new TransformerModel(config);
        var parameters = model.Parameters.AsSpan();
        for (int i = 0; i < parameters.Length; i++) parameters[i] = (float)(random.NextDouble() - 0.5);
        model.GetParameter("wte.weight").AsSpan()[(config.VocabSize * config.Width)..].Clear();
        return model;
    }

    // Rewrites one F32 tensor's dtype to I32 in the header (same byte count), to test the dtype check end to end.
    private string RewriteAsInt32(string path, string tensor)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = (int)BitConverter.ToUInt64(bytes, 0);
        string header = System.Text.Encoding.UTF8.GetString(bytes, 8, headerLength);
        string before = $"\"{tensor}\":{{\"dtype\":\"F32\"";
        Assert.Contains(before, header);
        header = header.Replace(before, $"\"{tensor}\":{{\"dtype\":\"I32\"", StringComparison.Ordinal);
        string rewritten = Path.Combine(_directory, "int-dtype-rewritten.safetensors");
        File.WriteAllBytes(rewritten, [.. bytes.AsSpan(0, 8), .. System.Text.Encoding.UTF8.GetBytes(header), .. bytes.AsSpan(8 + headerLength)]);
        return rewritten;
    }

    private static string Reference(string name)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory != null && !File.Exists(Path.Combine(directory.FullName, "LmForge.slnx"))) directory = directory.Parent;
        if (directory == null) throw new InvalidOperationException($"no LmForge.slnx above {AppContext.BaseDirectory}");
        return Path.Combine(directory.FullName, "tests", "reference", "gpt2_hf_tiny", name);
    }
}
