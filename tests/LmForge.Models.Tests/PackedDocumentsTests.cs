using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tensors.Optimization;
using LmForge.Tests.Shared;
using Xunit.Abstractions;

namespace LmForge.Models.Tests;

/// <summary>
/// Several documents packed into one row (documentStarts): each document's logits, loss and gradients must be those of
/// the document run alone, for learned (GPT-2) and rotary (Llama) positions. The models have large random weights, so
/// their outputs change when a token attends across a document boundary or sees a wrong position (checked too).
/// </summary>
public sealed class PackedDocumentsTests(ITestOutputHelper output)
{
    private const int Rows = 2, Tokens = 12;

    // row 0 packs documents of 4, 5 and 3 tokens, row 1 documents of 7 and 5
    private static readonly int[][] DocumentLengths = [[4, 5, 3], [7, 5]];

    public static TheoryData<string> Families => ["gpt2", "llama"];

    private static TransformerConfig Config(string family) => family switch
    {
        "gpt2" => TransformerConfig.Gpt2(53, Tokens, 2, 2, 16),
        "llama" => TransformerConfig.Llama(vocabSize: 53, contextLength: Tokens, layerCount: 2, headCount: 4, keyValueHeadCount: 2, width: 24,
            intermediateSize: 20) with { NormEpsilon = 1e-6f, RopeTheta = 1000f },
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    private static TransformerModel RandomModel(string family, IBackend? backend = null)
    {
        var model = new TransformerModel(Config(family), backend);
        model.InitializeWeights(seed: 5);
        if (backend is null) ModelGradientCheck.RandomizeWeights(model, new Random(17));
        return model;
    }

    // Tokens and targets (some ignored) of both rows, every token's document start, and each document as (row, start, length).
    private static (int[] Tokens, int[] Targets, int[] Starts, List<(int Row, int Start, int Length)> Documents) Packed(int vocabSize)
    {
        var random = new Random(20230828);
        var tokens = new int[Rows * Tokens];
        var targets = new int[Rows * Tokens];
        var starts = new int[Rows * Tokens];
        var documents = new List<(int Row, int Start, int Length)>();
        for (int b = 0; b < Rows; b++)
        {
            int start = 0;
            foreach (int length in DocumentLengths[b])
            {
                for (int t = start; t < start + length; t++) starts[(b * Tokens) + t] = start;
                documents.Add((b, start, length));
                start += length;
            }
        }
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = random.Next(vocabSize);
            targets[i] = i % 5 == 2 ? -1 : random.Next(vocabSize); // ignored targets make the documents' weights unequal
        }
        return (tokens, targets, starts, documents);
    }

    private static int Counted(ReadOnlySpan<int> targets)
    {
        int count = 0;
        foreach (int target in targets) count += target >= 0 ? 1 : 0;
        return count;
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Each_packed_document_gets_the_logits_and_loss_it_has_alone(string family)
    {
        using var model = RandomModel(family);
        var (tokens, targets, starts, documents) = Packed(model.Config.VocabSize);
        int vp = model.Config.PaddedVocabSize;
        model.Forward(tokens, Rows, Tokens);
        float[] unpacked = model.Logits.ToArray();

        float packedLoss = model.Forward(tokens, targets, Rows, Tokens, starts);
        float[] packed = model.Logits.ToArray();
        double weightedLoss = 0;
        foreach (var (row, start, length) in documents)
        {
            int first = (row * Tokens) + start;
            float loss = model.Forward(tokens.AsSpan(first, length), targets.AsSpan(first, length), 1, length);
            weightedLoss += (double)loss * Counted(targets.AsSpan(first, length));
            float[] alone = model.Logits.ToArray();
            for (int i = 0; i < length * vp; i++)
                Assert.True(Math.Abs(alone[i] - packed[(first * vp) + i]) <= 1e-5,
                    $"{family}: row {row}, document at {start}: logit {i} is {packed[(first * vp) + i]} packed, {alone[i]} alone");
        }
        Assert.Equal(weightedLoss / Counted(targets), packedLoss, 1e-5);

        // the comparison has teeth: run as one sequence per row, the later documents' logits are different
        double difference = 0;
        for (int i = 4 * vp; i < Tokens * vp; i++) difference = Math.Max(difference, Math.Abs(unpacked[i] - packed[i]));
        Assert.True(difference > 1e-2, $"{family}: packing changed the logits by only {difference}");
        // and a packed forward leaves unpacked ones as they were (the plan's positions are not rewritten)
        model.Forward(tokens, Rows, Tokens);
        Assert.Equal(unpacked, model.Logits.ToArray());
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Packed_gradients_are_the_documents_gradients_weighted_by_their_targets(string family)
    {
        using var model = RandomModel(family);
        var (tokens, targets, starts, documents) = Packed(model.Config.VocabSize);
        model.ZeroGradients();
        model.Forward(tokens, targets, Rows, Tokens, starts);
        model.Backward();
        float[] packed = model.Gradients.ToArray();

        // the mean over all targets = Σ_d (n_d / N) · (document d's mean), so each document's backward is scaled by n_d / N
        model.ZeroGradients();
        int total = Counted(targets);
        foreach (var (row, start, length) in documents)
        {
            int first = (row * Tokens) + start;
            model.Forward(tokens.AsSpan(first, length), targets.AsSpan(first, length), 1, length);
            model.Backward((float)Counted(targets.AsSpan(first, length)) / total);
        }
        float[] separate = model.Gradients.ToArray();
        double scale = packed.Max(v => Math.Abs((double)v));
        Assert.True(scale > 1e-3);
        for (int i = 0; i < packed.Length; i++)
            Assert.True(Math.Abs(packed[i] - separate[i]) <= 1e-5 * scale, $"{family}: gradient {i} is {packed[i]} packed, {separate[i]} summed over documents");
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Packed_gradients_match_finite_differences_of_the_loss(string family)
    {
        var random = new Random(20230828);
        using var model = RandomModel(family);
        var (tokens, targets, starts, _) = Packed(model.Config.VocabSize);
        model.ZeroGradients();
        model.Forward(tokens, targets, Rows, Tokens, starts);
        model.Backward();
        ModelGradientCheck.Check(family + " packed", model, model.Gradients.ToArray(),
            () => model.Forward(tokens, targets, Rows, Tokens, starts), random, output);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Packed_and_unpacked_training_steps_allocate_nothing_after_the_first(string family)
    {
        using var model = RandomModel(family);
        using var optimizer = model.CreateOptimizer(new AdamWSettings());
        var (tokens, targets, starts, _) = Packed(model.Config.VocabSize);
        void Steps()
        {
            model.TrainStep(tokens, targets, Rows, Tokens, optimizer, 1e-3f, 1f, starts);
            model.TrainStep(tokens, targets, Rows, Tokens, optimizer, 1e-3f, 1f);
            model.TrainStep(tokens, targets, Rows, Tokens, optimizer, 1e-3f, 1f, starts);
        }
        Steps();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Steps();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Packed_rows_run_on_a_backend_the_host_cannot_address(string family)
    {
        using var cpu = RandomModel(family);
        using var hostless = RandomModel(family, new HostlessBackend());
        cpu.InitializeWeights(seed: 5); // both at the same initialization
        var (tokens, targets, starts, _) = Packed(cpu.Config.VocabSize);
        cpu.ZeroGradients();
        hostless.ZeroGradients();
        Assert.Equal(cpu.Forward(tokens, targets, Rows, Tokens, starts), hostless.Forward(tokens, targets, Rows, Tokens, starts));
        cpu.Backward();
        hostless.Backward();
        Assert.Equal(cpu.Gradients.ToArray(), hostless.Backend.ToHost(hostless.Gradients));
    }

    public static TheoryData<string, int, int, string> BadStarts => new()
    {
        // (what, index changed, value, expected message part)
        { "first token not at 0", 12, 1, "documentStarts[12] = 1 (row 1, position 0): a row's first token starts a document, expected 0" },
        { "going back", 5, 0, "documentStarts[5] = 0 (row 0, position 5): expected 4 (the document of position 4) or 5 (a new document starting here)" },
        { "after the token", 2, 3, "documentStarts[2] = 3 (row 0, position 2): expected 0 (the document of position 1) or 2" },
        { "between the previous start and the token", 7, 5, "documentStarts[7] = 5 (row 0, position 7): expected 4" },
        { "negative", 0, -1, "documentStarts[0] = -1 (row 0, position 0)" },
    };

    [Theory]
    [MemberData(nameof(BadStarts))]
    public void Bad_document_starts_are_one_line_errors_naming_the_index(string what, int index, int value, string expected)
    {
        using var model = RandomModel("llama");
        using var optimizer = model.CreateOptimizer(new AdamWSettings());
        var (tokens, targets, starts, _) = Packed(model.Config.VocabSize);
        starts[index] = value;
        var errors = new[]
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(tokens, Rows, Tokens, starts)),
            Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(tokens, targets, Rows, Tokens, starts)),
            Assert.Throws<ArgumentOutOfRangeException>(() => model.TrainStep(tokens, targets, Rows, Tokens, optimizer, 1e-3f, 1f, starts)),
        };
        foreach (var error in errors)
        {
            Assert.Contains(expected, error.Message);
            Assert.Equal("documentStarts", error.ParamName);
            Assert.DoesNotContain('\n', error.Message);
        }
        Assert.Equal(0, optimizer.StepCount);
        output.WriteLine($"{what}: {errors[0].Message}");
    }

    [Fact]
    public void Document_starts_of_the_wrong_length_are_a_one_line_error()
    {
        using var model = RandomModel("gpt2");
        var (tokens, targets, starts, _) = Packed(model.Config.VocabSize);
        var error = Assert.Throws<ArgumentException>(() => model.Forward(tokens, targets, Rows, Tokens, starts.AsSpan(0, Tokens)));
        Assert.Contains("got 12 document starts for 24 tokens; expected one per token (or none)", error.Message);
        Assert.Equal("documentStarts", error.ParamName);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void A_failed_packed_forward_leaves_the_last_forward_ready_for_its_backward()
    {
        using var model = RandomModel("llama");
        var (tokens, targets, starts, _) = Packed(model.Config.VocabSize);
        model.ZeroGradients();
        model.Forward(tokens, targets, Rows, Tokens, starts);
        model.Backward();
        float[] expected = model.Gradients.ToArray();

        model.ZeroGradients();
        model.Forward(tokens, targets, Rows, Tokens, starts);
        int[] bad = (int[])starts.Clone();
        bad[3] = 2;
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(tokens, targets, Rows, Tokens, bad));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(tokens, Rows, Tokens, bad));
        model.Backward(); // still the packed forward's backward, with its positions and document boundaries
        Assert.Equal(expected, model.Gradients.ToArray());
    }
}
