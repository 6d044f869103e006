using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LmForge.Models.Transformer;
using LmForge.Tokenization;

namespace LmForge.Training;

/// <summary>
/// Everything that defines a pretraining run: the model shape, the data, the optimizer and the schedule, and how often
/// to evaluate, sample and save. Read from a JSON file (camelCase names), overridable by "name=value" pairs, and saved
/// into every checkpoint as training_config.json so a run can be resumed and audited.
/// </summary>
public sealed record TrainingConfig
{
    // Model: the family and its shape. The vocabulary size comes from the tokenizer.
    /// <summary>"gpt2" (LayerNorm, learned positions, GELU MLP, tied head), "llama" (RMSNorm, rotary positions, SwiGLU, grouped-query attention, untied head), "bert" (bidirectional, post-norm encoder with the masked-LM head; objective masked) or "t5" (an encoder-decoder, as many decoder layers as encoder layers; objective span).</summary>
    public string Architecture { get; init; } = TransformerFamilies.Gpt2;
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 4;
    /// <summary>Key/value heads (grouped-query attention, llama only); 0 means as many as heads.</summary>
    public int KeyValueHeads { get; init; }
    public int EmbeddingSize { get; init; } = 128;
    /// <summary>The MLP's hidden width; 0 means the family's default (gpt2, bert, t5: 4 x embeddingSize; llama: 8/3 x embeddingSize rounded up to 32).</summary>
    public int IntermediateSize { get; init; }
    /// <summary>Rotary base theta (llama only).</summary>
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>Tokens per training sequence (T), also the model's maximum context.</summary>
    public int ContextLength { get; init; } = 128;
    public int VocabularySize { get; init; } = 4096;

    /// <summary>What the model learns to predict: "causal" (the next token), "masked" (BERT's masked tokens, for an encoder) or "span" (T5's corrupted spans, for an encoder-decoder).</summary>
    public string Objective { get; init; } = TrainingObjectives.Causal;
    /// <summary>Masked LM: the fraction of non-special positions chosen per window (80 % masked, 10 % random, 10 % kept).</summary>
    public float MaskingRate { get; init; } = 0.15f;
    /// <summary>Span corruption: the fraction of each window's tokens dropped from the input, in (0, 1) (T5: 0.15).</summary>
    public double NoiseDensity { get; init; } = 0.15;
    /// <summary>Span corruption: the mean length of a dropped span, at least 1 (T5: 3).</summary>
    public double MeanSpanLength { get; init; } = 3;

    // Data: a directory, a file, or a glob pattern such as "shards/train_*.bin".
    public string TrainShards { get; init; } = "";
    public string ValidationShards { get; init; } = "";
    /// <summary>Supervised fine-tuning instead: a chat JSONL file of conversations (the loss is on assistant replies only).</summary>
    public string TrainChats { get; init; } = "";
    /// <summary>Held-out conversations for validation; empty holds out <see cref="ValidationFraction"/> of TrainChats.</summary>
    public string ValidationChats { get; init; } = "";
    public float ValidationFraction { get; init; } = 0.05f;
    /// <summary>The tokenizer.json conversations are rendered with (fine-tuning), or that says the special tokens (masked, span).</summary>
    public string Tokenizer { get; init; } = "";
    /// <summary>Sequences per forward/backward pass (B).</summary>
    public int MicroBatchSize { get; init; } = 8;
    /// <summary>Tokens per optimizer step; a multiple of MicroBatchSize × ContextLength (gradient accumulation makes up the rest).</summary>
    public int TotalBatchTokens { get; init; } = 1024;
    /// <summary>Visit shards and sequences in a seeded random order (false: file order, for comparisons with other trainers).</summary>
    public bool ShuffleTrainingData { get; init; } = true;

    // Optimizer: AdamW with decoupled weight decay on matrices only, and global gradient-norm clipping.
    public float LearningRate { get; init; } = 1e-3f;
    public float MinLearningRate { get; init; } = 1e-4f;
    public int WarmupSteps { get; init; } = 20;
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Cosine;
    /// <summary>For WarmupStableDecay: the fraction of the steps spent decaying at the end.</summary>
    public float DecayFraction { get; init; } = 0.2f;
    public float WeightDecay { get; init; } = 0.1f;
    public float Beta1 { get; init; } = 0.9f;
    public float Beta2 { get; init; } = 0.95f;
    public float Epsilon { get; init; } = 1e-8f;
    /// <summary>Clip the global gradient norm to this value; 0 turns clipping off.</summary>
    public float GradientClip { get; init; } = 1.0f;

    // The run.
    /// <summary>Optimizer steps in the whole run (the schedule decays to MinLearningRate at the last one).</summary>
    public int Steps { get; init; } = 1000;
    public int Seed { get; init; } = 1337;
    public int EvalEvery { get; init; } = 100;
    public int EvalBatches { get; init; } = 20;
    /// <summary>
    /// A task list (JSON, as <c>lmforge eval --tasks</c> reads; <c>lmforge tasks build</c> writes one) whose multiple-choice
    /// tasks run with every validation, their acc_norm and CORE going to metrics.jsonl and the loss curve; empty for none.
    /// </summary>
    public string EvalTasks { get; init; } = "";
    /// <summary>Examples per task at each evaluation (the first ones of each file); 0 for all.</summary>
    public int EvalTasksLimit { get; init; } = 100;
    /// <summary>Print a text sample every this many steps; 0 for never.</summary>
    public int SampleEvery { get; init; } = 200;
    public int SampleTokens { get; init; } = 64;
    /// <summary>Save a checkpoint every this many steps (and always at the end); 0 saves only at the end.</summary>
    public int CheckpointEvery { get; init; } = 500;
    /// <summary>How many of the newest checkpoints to keep.</summary>
    public int KeepCheckpoints { get; init; } = 2;
    /// <summary>The machine's peak in GFLOP/s for the MFU estimate; 0 measures it (or takes LMFORGE_PEAK_GFLOPS): see MachinePeak.</summary>
    public double PeakGflops { get; init; }
    /// <summary>With several processes (data parallelism), compare the parameters across ranks every this many steps (a hash; a mismatch stops the run); 0 only at the start and the end.</summary>
    public int ReplicaCheckEvery { get; init; } = 100;

    /// <summary>Micro-batches whose gradients add up to one optimizer step.</summary>
    [JsonIgnore]
    public int GradientAccumulationSteps => AccumulationSteps(1);

    /// <summary>Micro-batches per process whose gradients, summed over <paramref name="processes"/> data-parallel processes, make one optimizer step.</summary>
    public int AccumulationSteps(int processes) => TotalBatchTokens / (MicroBatchSize * ContextLength * processes);

    /// <summary>
    /// Checks that <paramref name="processes"/> ranks, each with microBatchSize rows per micro-batch, divide a step's
    /// totalBatchTokens; a one-line <see cref="TrainingConfigException"/> saying what would work otherwise.
    /// </summary>
    public void ValidateProcesses(int processes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(processes, 1);
        long perRound = (long)MicroBatchSize * ContextLength * processes;
        if (TotalBatchTokens % perRound == 0) return;
        throw new TrainingConfigException(string.Create(CultureInfo.InvariantCulture,
            $"totalBatchTokens = {TotalBatchTokens} is not a multiple of {processes} processes x microBatchSize {MicroBatchSize} x contextLength {ContextLength} = {perRound}: every process takes an equal share of each step; set totalBatchTokens to a multiple of {perRound} (e.g. --set total-batch-tokens={Math.Max(1, TotalBatchTokens / perRound) * perRound}) or change microBatchSize or the process count"));
    }

    /// <summary>
    /// The model this config describes. A t5's decoder starts from <paramref name="decoderStartToken"/>, the tokenizer's
    /// [PAD] (<see cref="Data.TrainingData.ModelConfig"/> reads it), which this record does not know; the other
    /// families ignore it.
    /// </summary>
    public TransformerConfig ToModelConfig(int? decoderStartToken = null)
    {
        if (Architecture == TransformerFamilies.T5)
        {
            if (decoderStartToken is not { } start)
                throw new TrainingConfigException("architecture t5: the model config needs the decoder start token (the tokenizer's [PAD] id); get it with TrainingData.ModelConfig(config)");
            return TransformerConfig.T5(VocabularySize, ContextLength, layerCount: Layers, decoderLayerCount: Layers, headCount: Heads, width: EmbeddingSize,
                intermediateSize: IntermediateSize > 0 ? IntermediateSize : 4 * EmbeddingSize, gated: false, decoderStartToken: start);
        }
        if (Architecture == TransformerFamilies.Llama)
        {
            return TransformerConfig.Llama(VocabularySize, ContextLength, Layers, Heads, KeyValueHeads == 0 ? Heads : KeyValueHeads,
                EmbeddingSize, IntermediateSize) with { RopeTheta = RopeTheta };
        }
        if (Architecture == TransformerFamilies.Bert)
            return TransformerConfig.Bert(VocabularySize, ContextLength, Layers, Heads, EmbeddingSize, IntermediateSize > 0 ? IntermediateSize : 4 * EmbeddingSize);
        var gpt2 = TransformerConfig.Gpt2(VocabularySize, ContextLength, Layers, Heads, EmbeddingSize);
        return IntermediateSize > 0 ? gpt2 with { IntermediateSize = IntermediateSize } : gpt2;
    }

    [JsonIgnore]
    public LearningRateSchedule LearningRateSchedule =>
        new(Schedule, LearningRate, MinLearningRate, WarmupSteps, Steps, DecayFraction);

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a config file; fields it leaves out keep their defaults. Errors name the file and the field.</summary>
    public static TrainingConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TrainingConfigException($"{path}: cannot read the training config ({e.Message})");
        }
        return Parse(text, path);
    }

    public static TrainingConfig Parse(string json, string source)
    {
        try
        {
            var config = JsonSerializer.Deserialize<TrainingConfig>(json, JsonOptions)
                ?? throw new TrainingConfigException($"{source}: the training config is 'null'; expected a JSON object");
            config.Validate(source);
            return config;
        }
        catch (JsonException e)
        {
            string where = e.Path is null ? "" : $" at {e.Path}";
            throw new TrainingConfigException($"{source}: invalid training config{where}: {UntrustedText.JsonError(e)}");
        }
    }

    /// <summary>
    /// Applies "name=value" overrides (names in camelCase or kebab-case, e.g. "learning-rate=3e-4") and validates.
    /// </summary>
    public TrainingConfig WithOverrides(IEnumerable<string> assignments)
    {
        var node = JsonSerializer.SerializeToNode(this, JsonOptions)!.AsObject();
        foreach (string assignment in assignments)
        {
            int equals = assignment.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
                throw new TrainingConfigException($"override '{assignment}': expected name=value, e.g. learning-rate=3e-4");
            string name = ToCamelCase(assignment[..equals].Trim());
            string value = assignment[(equals + 1)..].Trim();
            if (!node.ContainsKey(name))
                throw new TrainingConfigException(
                    $"override '{assignment}': unknown setting '{name}'; known settings: {string.Join(", ", node.Select(p => p.Key))}");
            node[name] = (node[name] as JsonValue)?.GetValueKind() switch
            {
                JsonValueKind.Number => ParseNumber(assignment, value),
                JsonValueKind.True or JsonValueKind.False => bool.TryParse(value, out bool flag)
                    ? JsonValue.Create(flag)
                    : throw new TrainingConfigException($"override '{assignment}': '{value}' is not true or false"),
                _ => JsonValue.Create(value),
            };
        }
        return Parse(node.ToJsonString(JsonOptions), "overrides");
    }

    /// <summary>Throws a one-line <see cref="TrainingConfigException"/> naming the first field that is out of range.</summary>
    public void Validate(string source = "config")
    {
        void Require(bool ok, string field, string expected, object actual)
        {
            if (!ok) throw new TrainingConfigException($"{source}: {field} = {UntrustedText.Excerpt(Convert.ToString(actual, CultureInfo.InvariantCulture) ?? "null")} is invalid; expected {expected}");
        }
        // decoders learn the next token, an encoder the masked ones, an encoder-decoder the corrupted spans
        string[] trainable = [TransformerFamilies.Gpt2, TransformerFamilies.Llama, TransformerFamilies.Bert, TransformerFamilies.T5];
        Require(trainable.Contains(Architecture), "architecture", string.Join(" or ", trainable), Architecture);
        var (objective, why) = Architecture switch
        {
            TransformerFamilies.Bert => (TrainingObjectives.Masked, "an encoder learns masked tokens: --set objective=masked"),
            TransformerFamilies.T5 => (TrainingObjectives.Span, "an encoder-decoder learns corrupted spans: --set objective=span"),
            _ => (TrainingObjectives.Causal, "the masked objective trains a bert encoder, the span objective a t5 encoder-decoder"),
        };
        Require(Objective == objective, "objective", $"{objective} for {Architecture} ({why})", Objective);
        Require(Layers >= 1, "layers", "at least 1", Layers);
        Require(Heads >= 1, "heads", "at least 1", Heads);
        Require(EmbeddingSize >= 1 && EmbeddingSize % Heads == 0, "embeddingSize", $"a positive multiple of heads ({Heads})", EmbeddingSize);
        Require(KeyValueHeads >= 0 && (KeyValueHeads == 0 || Heads % KeyValueHeads == 0), "keyValueHeads", $"0 (as many as heads) or a divisor of heads ({Heads})", KeyValueHeads);
        Require(KeyValueHeads == 0 || KeyValueHeads == Heads || Architecture == TransformerFamilies.Llama, "keyValueHeads",
            $"0 or heads ({Heads}) for {Architecture}: grouped-query attention is a llama option", KeyValueHeads);
        Require(IntermediateSize >= 0, "intermediateSize", "0 (the family's default) or more", IntermediateSize);
        Require(RopeTheta > 1 && float.IsFinite(RopeTheta), "ropeTheta", "a number above 1", RopeTheta);
        Require(Architecture != TransformerFamilies.Llama || (EmbeddingSize / Math.Max(1, Heads)) % 2 == 0, "embeddingSize",
            $"a multiple of 2 x heads ({2 * Heads}) for llama: rotary embeddings need an even head size", EmbeddingSize);
        Require(ContextLength >= 1, "contextLength", "at least 1", ContextLength);
        Require(VocabularySize >= 2, "vocabularySize", "at least 2", VocabularySize);
        Require(TrainingObjectives.All.Contains(Objective), "objective", string.Join(" or ", TrainingObjectives.All), Objective);
        Require(MaskingRate > 0 && MaskingRate < 1, "maskingRate", "in (0, 1)", MaskingRate);
        Require(NoiseDensity > 0 && NoiseDensity < 1, "noiseDensity", "in (0, 1)", NoiseDensity);
        Require(MeanSpanLength >= 1 && double.IsFinite(MeanSpanLength), "meanSpanLength", "a number at least 1", MeanSpanLength);
        Require(Objective == TrainingObjectives.Causal || TrainChats.Length == 0, "objective", "causal when fine-tuning on conversations (trainChats)", Objective);
        Require(ValidationFraction > 0 && ValidationFraction < 1, "validationFraction", "in (0, 1)", ValidationFraction);
        Require(MicroBatchSize >= 1, "microBatchSize", "at least 1", MicroBatchSize);
        int microBatchTokens = MicroBatchSize * ContextLength;
        Require(TotalBatchTokens >= microBatchTokens && TotalBatchTokens % microBatchTokens == 0, "totalBatchTokens",
            $"a positive multiple of microBatchSize x contextLength = {microBatchTokens}", TotalBatchTokens);
        Require(LearningRate > 0 && float.IsFinite(LearningRate), "learningRate", "a positive number", LearningRate);
        Require(MinLearningRate >= 0 && MinLearningRate <= LearningRate, "minLearningRate", $"between 0 and learningRate ({LearningRate})", MinLearningRate);
        Require(WarmupSteps >= 0, "warmupSteps", "0 or more", WarmupSteps);
        Require(DecayFraction > 0 && DecayFraction <= 1, "decayFraction", "in (0, 1]", DecayFraction);
        Require(WeightDecay >= 0, "weightDecay", "0 or more", WeightDecay);
        Require(Beta1 >= 0 && Beta1 < 1, "beta1", "in [0, 1)", Beta1);
        Require(Beta2 >= 0 && Beta2 < 1, "beta2", "in [0, 1)", Beta2);
        Require(Epsilon > 0, "epsilon", "a positive number", Epsilon);
        Require(GradientClip >= 0, "gradientClip", "0 (off) or a positive norm", GradientClip);
        Require(Steps >= 1, "steps", "at least 1", Steps);
        Require(EvalEvery >= 0, "evalEvery", "0 (only at the end) or more", EvalEvery);
        Require(EvalBatches >= 1, "evalBatches", "at least 1", EvalBatches);
        Require(EvalTasksLimit >= 0, "evalTasksLimit", "0 (every example) or more", EvalTasksLimit);
        Require(SampleEvery >= 0, "sampleEvery", "0 (never) or more", SampleEvery);
        Require(SampleTokens >= 1, "sampleTokens", "at least 1", SampleTokens);
        Require(CheckpointEvery >= 0, "checkpointEvery", "0 (only at the end) or more", CheckpointEvery);
        Require(PeakGflops >= 0 && double.IsFinite(PeakGflops), "peakGflops", "0 (measure the machine) or the peak in GFLOP/s", PeakGflops);
        Require(KeepCheckpoints >= 1, "keepCheckpoints", "at least 1", KeepCheckpoints);
        Require(ReplicaCheckEvery >= 0, "replicaCheckEvery", "0 (only at the start and the end) or more", ReplicaCheckEvery);
    }

    /// <summary>
    /// The settings a resumed run must share with the checkpoint to continue it exactly: the model shape, the batch
    /// layout, the data order (seed) and the schedule. Returns null when compatible, else a one-line reason.
    /// </summary>
    public string? IncompatibilityWith(TrainingConfig saved)
    {
        var differences = new List<string>();
        void Check<T>(string name, T mine, T theirs)
        {
            if (!EqualityComparer<T>.Default.Equals(mine, theirs)) differences.Add($"{name} {theirs} (checkpoint) vs {mine} (now)");
        }
        Check("architecture", Architecture, saved.Architecture);
        Check("layers", Layers, saved.Layers);
        Check("heads", Heads, saved.Heads);
        Check("keyValueHeads", KeyValueHeads, saved.KeyValueHeads);
        Check("embeddingSize", EmbeddingSize, saved.EmbeddingSize);
        Check("intermediateSize", IntermediateSize, saved.IntermediateSize);
        Check("ropeTheta", RopeTheta, saved.RopeTheta);
        Check("contextLength", ContextLength, saved.ContextLength);
        Check("vocabularySize", VocabularySize, saved.VocabularySize);
        Check("microBatchSize", MicroBatchSize, saved.MicroBatchSize);
        Check("totalBatchTokens", TotalBatchTokens, saved.TotalBatchTokens);
        Check("seed", Seed, saved.Seed);
        Check("shuffleTrainingData", ShuffleTrainingData, saved.ShuffleTrainingData);
        Check("objective", Objective, saved.Objective);
        Check("maskingRate", MaskingRate, saved.MaskingRate);
        Check("noiseDensity", NoiseDensity, saved.NoiseDensity);
        Check("meanSpanLength", MeanSpanLength, saved.MeanSpanLength);
        return differences.Count == 0 ? null : string.Join("; ", differences);
    }

    static JsonNode ParseNumber(string assignment, string value)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) && double.IsFinite(number))
            return JsonValue.Create(number);
        throw new TrainingConfigException($"override '{assignment}': '{value}' is not a number");
    }

    static string ToCamelCase(string name)
    {
        var parts = name.Split(['-', '_'], StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return name;
        return string.Concat(parts.Select((p, i) => i == 0 ? char.ToLowerInvariant(p[0]) + p[1..] : char.ToUpperInvariant(p[0]) + p[1..]));
    }
}

/// <summary>The training objectives a config can name.</summary>
public static class TrainingObjectives
{
    public const string Causal = "causal", Masked = "masked", Span = "span";

    public static IReadOnlyList<string> All { get; } = [Causal, Masked, Span];
}

/// <summary>A training config that cannot be read or is out of range; the message is one line naming the field.</summary>
public sealed class TrainingConfigException(string message) : Exception(message);
