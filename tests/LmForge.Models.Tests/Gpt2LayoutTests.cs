using System.Buffers.Binary;
using System.Runtime.InteropServices;
using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Models.Tests;

// tests/reference/fixtures/gpt2_layouts was written by tests/reference/make_gpt2_layouts.py: one tiny GPT-2 (V 93,
// maxT 16, L 2, NH 3, C 24) as an llm.c float32 and bfloat16 model file (llm.c's write_model layout), a Hugging Face
// GPT2LMHeadModel checkpoint (prefix, mask buffers, tied lm_head) and a bare GPT2Model file, and PyTorch's logits.
public sealed class Gpt2LayoutTests : IDisposable
{
    private static readonly TransformerConfig Config = TransformerConfig.Gpt2(93, 16, 2, 3, 24);
    private readonly string _directory = Directory.CreateTempSubdirectory("lmforge-gpt2layouts-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "gpt2_layouts", name);

    private static string Float32File => Fixture("gpt2_124M_like.bin");

    private static string BFloat16File => Fixture("gpt2_124M_like_bf16.bin");

    public static TheoryData<string, bool> Layouts => new()
    {
        { "gpt2_124M_like.bin", false },
        { "gpt2_124M_like_bf16.bin", true },
        { "hf", false },
        { "hf/model.safetensors", false },
        { "bare/gpt2_model.safetensors", false },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Load_EachLayout_ReproducesPyTorchLogits(string layout, bool bfloat16)
    {
        using var model = ModelFiles.Load(Fixture(layout), trainable: false);
        Assert.Equal(Config, model.Config);
        double error = LogitError(model, bfloat16 ? "logits_bf16" : "logits");
        Assert.True(error < 1e-5, $"{layout}: largest logit error relative to the largest logit {error:E2}");
    }

    [Fact]
    public void LlmcHeader_IsTheOneLlmcWrites()
    {
        var header = LlmcModelFile.ReadHeader(Float32File);
        Assert.Equal(new LlmcModelHeader(3, 16, 93, 2, 3, 24, 128), header);
        Assert.Equal(LlmcPrecision.BFloat16, LlmcModelFile.ReadHeader(BFloat16File).Precision);
        Assert.Equal(ModelFileKind.Llmc, ModelFiles.KindOf(Float32File));
    }

    // Our writer reproduces llm.c's file byte for byte: from the llm.c file itself, from the Hugging Face checkpoint, and
    // (bfloat16: round to nearest even, as PyTorch) from the float32 weights; a bfloat16 file round-trips its values.
    [Theory]
    [InlineData("gpt2_124M_like.bin", LlmcPrecision.Float32, "gpt2_124M_like.bin")]
    [InlineData("hf", LlmcPrecision.Float32, "gpt2_124M_like.bin")]
    [InlineData("gpt2_124M_like.bin", LlmcPrecision.BFloat16, "gpt2_124M_like_bf16.bin")]
    [InlineData("gpt2_124M_like_bf16.bin", LlmcPrecision.BFloat16, "gpt2_124M_like_bf16.bin")]
    public void Save_Llmc_WritesTheBytesLlmcWrites(string source, LlmcPrecision precision, string expected)
    {
        using var model = ModelFiles.Load(Fixture(source), trainable: false);
        string saved = Path.Combine(_directory, "saved.bin");
        LlmcModelFile.Save(model, saved, precision);
        Assert.Equal(File.ReadAllBytes(Fixture(expected)), File.ReadAllBytes(saved));
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp*"));
    }

    [Fact]
    public void SaveAndLoad_Float32_RoundTripsEveryParameterBitForBit()
    {
        using var model = ModelCheckpoint.Load(Fixture("hf"), trainable: false);
        string saved = Path.Combine(_directory, "model.bin");
        LlmcModelFile.Save(model, saved);
        using var reloaded = LlmcModelFile.Load(saved, trainable: false);
        Assert.Equal(model.Parameters.ToArray(), reloaded.Parameters.ToArray());
    }

    // A writer of this test's own, from llm.c's description: header, then the tensors; Vp of its choice (not ours, 128),
    // with junk in the padded rows, which must not reach the model.
    [Theory]
    [InlineData(93, false)]
    [InlineData(200, false)]
    [InlineData(100, true)]
    public void Load_FileWrittenHere_WithAnotherPaddedVocabulary(int paddedVocab, bool bfloat16)
    {
        using var model = ModelFiles.Load(Fixture("hf"), trainable: false);
        string path = Path.Combine(_directory, "own.bin");
        WriteLlmc(model, path, paddedVocab, bfloat16);

        using var loaded = LlmcModelFile.Load(path, trainable: false);
        Assert.Equal(Config, loaded.Config);
        foreach (var p in model.ParameterLayout)
        {
            float[] expected = model.GetParameter(p.Name).ToArray();
            if (bfloat16) expected = expected.Select(v => LlmcModelFile.FromBFloat16(LlmcModelFile.ToBFloat16(v))).ToArray();
            Assert.Equal(expected, loaded.GetParameter(p.Name).ToArray());
        }
    }

    [Fact]
    public void ToBFloat16_RoundsToNearestEven()
    {
        Assert.Equal(0x3F80, LlmcModelFile.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie, even below
        Assert.Equal(0x3F82, LlmcModelFile.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie, even above
        Assert.Equal(0x3F81, LlmcModelFile.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808001)));
        Assert.Equal(0x7F80, LlmcModelFile.ToBFloat16(float.PositiveInfinity));
        Assert.True(float.IsNaN(LlmcModelFile.FromBFloat16(LlmcModelFile.ToBFloat16(float.NaN))));
    }

    [Theory]
    [InlineData("magic")]
    [InlineData("state")]
    [InlineData("version")]
    [InlineData("truncated")]
    [InlineData("header")]
    [InlineData("extra")]
    [InlineData("heads")]
    public void Load_BadFile_IsOneLineErrorNamingTheFile(string damage)
    {
        byte[] bytes = File.ReadAllBytes(Float32File);
        switch (damage)
        {
            case "magic": BinaryPrimitives.WriteInt32LittleEndian(bytes, 12345); break;
            case "state": BinaryPrimitives.WriteInt32LittleEndian(bytes, 20240327); break;
            case "version": BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), 4); break;
            case "truncated": bytes = bytes[..^4]; break;
            case "header": bytes = bytes[..512]; break;
            case "extra": bytes = [.. bytes, 0, 0, 0, 0]; break;
            case "heads": BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(20), 5); break;
        }
        string path = Path.Combine(_directory, "bad.bin");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => LlmcModelFile.Load(path));
        Assert.StartsWith(path + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains(damage switch
        {
            "magic" => "magic 12345",
            "state" => "debug state file",
            "version" => "version 4",
            "truncated" or "header" => "truncated",
            "extra" => "sizes do not add up",
            _ => "NH 5 does not divide C 24",
        }, e.Message);
        Assert.Throws<InvalidDataException>(() => ModelFiles.Load(path));
    }

    [Fact]
    public void Save_NotAGpt2AsLlmcBuildsIt_IsOneLineError()
    {
        using var model = new TransformerModel(Config with { IntermediateSize = 50 }, trainable: false);
        var e = Assert.Throws<ArgumentException>(() => LlmcModelFile.Save(model, Path.Combine(_directory, "x.bin")));
        Assert.Contains("MLP 50", e.Message);
        Assert.Empty(Directory.GetFiles(_directory));
    }

    // lm_head.weight is skipped (our head is tied) but must equal wte.weight: an untied head is not silently dropped.
    [Fact]
    public void Load_HuggingFaceFileWithAnUntiedHead_IsRefused()
    {
        using var reference = SafeTensorsFile.Open(Fixture("hf/model.safetensors"));
        var entries = new List<SafeTensorEntry>();
        foreach (var info in reference.Tensors.Values.Where(t => t.DType == SafeTensorDType.F32 && t.Shape.Count > 0))
        {
            float[] values = reference.ReadFloat32(info.Name, info.Shape.ToArray());
            if (info.Name == "lm_head.weight") values[5] += 1e-3f;
            entries.Add(new SafeTensorEntry(info.Name, info.Shape, values));
        }
        string path = Path.Combine(_directory, "model.safetensors");
        SafeTensorsFile.Write(path, entries);
        File.Copy(Fixture("hf/config.json"), Path.Combine(_directory, "config.json"));
        var e = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(_directory));
        Assert.Contains("'lm_head.weight' differs from 'transformer.wte.weight'", e.Message);
    }

    // A bare weights file without config.json: the GPT-2's sizes come from its tensors (heads of 64, as OpenAI's).
    [Fact]
    public void Load_BareFileWithoutConfig_InfersGpt2Shape()
    {
        var config = TransformerConfig.Gpt2(70, 8, 3, 2, 128);
        using var model = new TransformerModel(config, trainable: false);
        model.InitializeWeights(seed: 5);
        string path = Path.Combine(_directory, "weights.safetensors");
        ModelCheckpoint.SaveWeights(model, path);
        using var loaded = ModelFiles.Load(path, trainable: false);
        Assert.Equal(config, loaded.Config);
        Assert.Equal(model.Parameters.ToArray(), loaded.Parameters.ToArray());

        using var tiny = ModelFiles.Load(Fixture("hf"), trainable: false);
        string odd = Path.Combine(_directory, "odd.safetensors");
        ModelCheckpoint.SaveWeights(tiny, odd);
        var e = Assert.Throws<InvalidDataException>(() => ModelFiles.Load(odd));
        Assert.Contains("put its config.json beside it", e.Message);
    }

    private static double LogitError(TransformerModel model, string expectedName)
    {
        using var expected = SafeTensorsFile.Open(Fixture("expected.safetensors"));
        var tokenInfo = expected.GetInfo("tokens");
        var tokens = new int[tokenInfo.ElementCount];
        expected.ReadBytes("tokens", MemoryMarshal.AsBytes(tokens.AsSpan()));
        int batch = tokenInfo.Shape[0], sequence = tokenInfo.Shape[1], v = Config.VocabSize, vp = Config.PaddedVocabSize;
        float[] reference = expected.ReadFloat32(expectedName, [batch, sequence, v]);
        model.Forward(tokens, batch, sequence);
        float[] logits = model.Logits.ToArray();
        double largest = reference.Max(Math.Abs), worst = 0;
        for (int row = 0; row < batch * sequence; row++)
        {
            for (int j = 0; j < v; j++) worst = Math.Max(worst, Math.Abs(logits[row * vp + j] - reference[row * v + j]));
            for (int j = v; j < vp; j++) Assert.Equal(0f, logits[row * vp + j]); // padded rows load as zero
        }
        return worst / largest;
    }

    private static void WriteLlmc(TransformerModel model, string path, int paddedVocab, bool bfloat16)
    {
        var c = model.Config;
        using var stream = File.Create(path);
        var header = new byte[1024];
        int[] fields = [20240326, bfloat16 ? 5 : 3, c.ContextLength, c.VocabSize, c.LayerCount, c.HeadCount, c.Width, paddedVocab];
        for (int i = 0; i < fields.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4 * i), fields[i]);
        stream.Write(header);
        void Put(IEnumerable<float> values)
        {
            foreach (float value in values)
            {
                if (bfloat16) stream.Write(BitConverter.GetBytes(Bf16(value)));
                else stream.Write(BitConverter.GetBytes(value));
            }
        }
        float[] wte = model.GetParameter("wte.weight").ToArray();
        Put(wte.Take(c.VocabSize * c.Width));
        Put(Enumerable.Repeat(7.5f, (paddedVocab - c.VocabSize) * c.Width)); // junk in llm.c's padded rows
        Put(model.GetParameter("wpe.weight").ToArray());
        string[] kinds = ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
            "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"];
        foreach (string kind in kinds)
        {
            for (int l = 0; l < c.LayerCount; l++) Put(model.GetParameter($"h.{l}.{kind}").ToArray());
        }
        Put(model.GetParameter("ln_f.weight").ToArray());
        Put(model.GetParameter("ln_f.bias").ToArray());
    }

    // round to nearest even, written out here independently of LlmcModelFile.ToBFloat16 (finite values only)
    private static ushort Bf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint upper = bits >> 16, lower = bits & 0xFFFF;
        if (lower > 0x8000 || (lower == 0x8000 && (upper & 1) == 1)) upper++;
        return (ushort)upper;
    }
}
