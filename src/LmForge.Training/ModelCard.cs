using System.Globalization;
using System.Text;
using System.Text.Json;
using LmForge.Models.Transformer;
using LmForge.Tensors.Cpu;
using LmForge.Training.Data;

namespace LmForge.Training;

/// <summary>
/// What a checkpoint's model card says: only facts the trainer knows when it saves (the config, the model's shape and
/// parameter count, the data shards, the steps, tokens and time so far, the machine and its peak, the last losses).
/// </summary>
public sealed record ModelCardFacts
{
    public required TrainingConfig Config { get; init; }
    /// <summary>The model's configuration when the trainer knows it (the engine's models); null for another <see cref="ITrainableModel"/>.</summary>
    public TransformerConfig? Model { get; init; }
    public required long Parameters { get; init; }
    public required int Step { get; init; }
    public required long TokensSeen { get; init; }
    public required double ElapsedSeconds { get; init; }
    /// <summary>Training FLOPs per input token (<see cref="TrainingFlops.PerToken"/>).</summary>
    public required double FlopsPerToken { get; init; }
    public required MachinePeak Peak { get; init; }
    /// <summary>The median MFU of the run's steps in metrics.jsonl (unclamped; null when none).</summary>
    public double? MedianStepMfu { get; init; }
    public IReadOnlyList<TokenShardFingerprint> TrainingData { get; init; } = [];
    public IReadOnlyList<TokenShardFingerprint> ValidationData { get; init; } = [];
    /// <summary>The tokenizer.json the run used (its special tokens are listed): the checkpoint's, else the config's; null when neither exists.</summary>
    public string? TokenizerFile { get; init; }
    /// <summary>Whether <see cref="TokenizerFile"/> is part of the checkpoint.</summary>
    public bool TokenizerInCheckpoint { get; init; }
    public float? LastTrainLoss { get; init; }
    /// <summary>The last validation: the step it was measured before (or after, for the final one), its loss and accuracy.</summary>
    public (int Step, float Loss, float? Accuracy)? Validation { get; init; }
    /// <summary>The evaluation tasks' scores at that validation (each task's acc_norm and "core"), when the run has evalTasks.</summary>
    public IReadOnlyDictionary<string, float>? TaskScores { get; init; }
    public string CpuModel { get; init; } = MachinePeak.CpuModel();
    public int Cores { get; init; } = Environment.ProcessorCount;
    public int Threads { get; init; } = WorkerPool.Shared.WorkerCount;
}

/// <summary>
/// A checkpoint's README.md in the Hugging Face model-card style: YAML front matter (library_name, tags, pipeline_tag),
/// then the model, tokenizer, data, training, results, intended use and limitations, and how to use it with lmforge.
/// The trainer writes one into every checkpoint before the checkpoint's directory is renamed into place.
/// </summary>
public static class ModelCard
{
    public const string FileName = "README.md";

    /// <summary>Hugging Face's pipeline tag for a family: a decoder generates text, BERT fills masks, T5 maps text to text.</summary>
    public static string PipelineTag(string family) => family switch
    {
        TransformerFamilies.Bert => "fill-mask",
        TransformerFamilies.T5 => "text2text-generation",
        _ => "text-generation",
    };

    /// <summary>Writes README.md into <paramref name="directory"/>.</summary>
    public static void Write(string directory, ModelCardFacts facts) =>
        File.WriteAllText(Path.Combine(directory, FileName), Render(facts));

    /// <summary>
    /// The card of a model LmForge did not train, such as a converted GPT-2 (<c>lmforge convert</c>): the card of the
    /// source directory when it has one (the facts travel with the weights), else only what the file itself says.
    /// </summary>
    public static string RenderConverted(TransformerConfig model, long parameters, string source, string? sourceCard)
    {
        if (sourceCard is not null && File.Exists(sourceCard))
            return File.ReadAllText(sourceCard) + $"\n_Converted by `lmforge convert` from `{source}`; the weights are unchanged._\n";
        var text = new StringBuilder();
        void Line(FormattableString line = null!) => text.Append(line is null ? "" : line.ToString(CultureInfo.InvariantCulture)).Append('\n');
        Line($"---");
        Line($"library_name: lmforge");
        Line($"tags:");
        Line($"- {model.Family}");
        Line($"- lmforge");
        Line($"pipeline_tag: {PipelineTag(model.Family)}");
        Line($"---");
        Line();
        Line($"# {model.Family} {FormatCount(parameters)}");
        Line();
        Line($"Converted by `lmforge convert` from `{source}`. The file says the model's shape only: how it was trained, on what data, and how well it does are not known here.");
        Line();
        Line($"## Model");
        Line();
        Line($"{model.Summary}; {parameters:N0} parameters.");
        Line();
        Line($"## How to use it");
        Line();
        Line($"`lmforge sample --checkpoint DIR --prompt \"...\"` (needs the model's tokenizer.json in the directory), `lmforge eval --checkpoint DIR --tasks tasks.json`.");
        return text.ToString();
    }

    public static string Render(ModelCardFacts facts)
    {
        var config = facts.Config;
        string family = facts.Model?.Family ?? config.Architecture;
        bool chat = config.TrainChats.Length > 0;
        var text = new StringBuilder();
        void Line(FormattableString line = null!) => text.Append(line is null ? "" : line.ToString(CultureInfo.InvariantCulture)).Append('\n');

        Line($"---");
        Line($"library_name: lmforge");
        Line($"tags:");
        Line($"- {family}");
        Line($"- lmforge");
        if (chat) Line($"- conversational");
        Line($"pipeline_tag: {PipelineTag(family)}");
        Line($"---");
        Line();
        string what = family switch
        {
            TransformerFamilies.Bert => "BERT-style encoder (masked-token prediction)",
            TransformerFamilies.T5 => "T5-style encoder-decoder (span corruption)",
            TransformerFamilies.Llama => chat ? "Llama-style decoder fine-tuned on conversations" : "Llama-style decoder (next-token prediction)",
            _ => chat ? "GPT-2-style decoder fine-tuned on conversations" : "GPT-2-style decoder (next-token prediction)",
        };
        Line($"# {family} {FormatCount(facts.Parameters)}: step {facts.Step}");
        Line();
        Line($"A {FormatCount(facts.Parameters)}-parameter {what}, trained on a CPU with LmForge (`lmforge train`). This card was written by the trainer when it saved the checkpoint at step {facts.Step}.");
        Line();

        Line($"## Model");
        Line();
        Line($"| | |");
        Line($"|---|---|");
        Line($"| architecture | {family} |");
        Line($"| parameters | {facts.Parameters:N0} |");
        if (facts.Model is { } model)
        {
            Line($"| layers | {(model.IsEncoderDecoder ? $"{model.LayerCount} encoder + {model.DecoderLayerCount} decoder" : $"{model.LayerCount}")} |");
            Line($"| width | {model.Width} |");
            Line($"| heads | {model.HeadCount}{(model.KeyValueHeadCount != model.HeadCount ? $" ({model.KeyValueHeadCount} key/value heads)" : "")}, head size {model.HeadSize} |");
            Line($"| MLP | {model.IntermediateSize}{(model.GatedMlp ? " (gated)" : "")}, {model.Activation} |");
            Line($"| context | {model.ContextLength} tokens |");
            Line($"| vocabulary | {model.VocabSize} (padded to {model.PaddedVocabSize}) |");
            Line($"| output head | {(model.TiedEmbeddings ? "tied to the token embedding" : "its own matrix")} |");
        }
        else
        {
            Line($"| layers | {config.Layers} |");
            Line($"| width | {config.EmbeddingSize} |");
            Line($"| heads | {config.Heads} |");
            Line($"| context | {config.ContextLength} tokens |");
            Line($"| vocabulary | {config.VocabularySize} |");
        }
        Line();
        Line($"The weights are `model.safetensors` with `config.json` in Hugging Face's {family} layout (float32).");
        Line();

        Line($"## Tokenizer");
        Line();
        Line($"Byte-level BPE, {config.VocabularySize:N0} tokens{(facts.TokenizerInCheckpoint ? " (`tokenizer.json` in this directory)." : ".")}");
        if (facts.TokenizerFile is { } tokenizerFile && SpecialTokens(tokenizerFile) is { Count: > 0 } specials)
        {
            const int Shown = 12;
            string list = string.Join(", ", specials.Take(Shown).Select(s => $"`{s}`"));
            Line($"Special tokens ({specials.Count}): {list}{(specials.Count > Shown ? $", ... and {specials.Count - Shown} more" : "")}.");
        }
        Line();

        Line($"## Data");
        Line();
        string objective = config.Objective switch
        {
            TrainingObjectives.Masked => string.Create(CultureInfo.InvariantCulture, $"masked-token prediction ({config.MaskingRate:P0} of the positions chosen, 80/10/10)"),
            TrainingObjectives.Span => string.Create(CultureInfo.InvariantCulture, $"span corruption (noise density {config.NoiseDensity}, mean span length {config.MeanSpanLength})"),
            _ => chat ? "next-token prediction on the assistant's replies" : "next-token prediction",
        };
        Line($"Objective: {objective}.");
        Line();
        if (chat)
            Line($"Conversations: `{config.TrainChats}`{(config.ValidationChats.Length > 0 ? $", validation `{config.ValidationChats}`" : string.Create(CultureInfo.InvariantCulture, $", {config.ValidationFraction:P0} held out for validation"))}.");
        else
            Line($"Training shards: `{config.TrainShards}`; validation shards: `{config.ValidationShards}`.");
        if (facts.TrainingData.Count + facts.ValidationData.Count > 0)
        {
            Line();
            Line($"| split | file | tokens |");
            Line($"|---|---|---:|");
            foreach (var shard in facts.TrainingData) Line($"| train | {shard.Name} | {shard.Tokens:N0} |");
            foreach (var shard in facts.ValidationData) Line($"| validation | {shard.Name} | {shard.Tokens:N0} |");
        }
        Line();

        Line($"## Training");
        Line();
        long trainTokens = facts.TrainingData.Sum(s => s.Tokens);
        double flops = facts.FlopsPerToken * facts.TokensSeen;
        double averageMfu = facts.ElapsedSeconds > 0 ? flops / facts.ElapsedSeconds / facts.Peak.FlopsPerSecond : 0;
        Line($"| | |");
        Line($"|---|---|");
        Line($"| steps | {facts.Step:N0} of {config.Steps:N0} |");
        Line($"| tokens | {facts.TokensSeen:N0}{(trainTokens > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({(double)facts.TokensSeen / trainTokens:F2} epochs of the training shards)") : "")} |");
        Line($"| batch | {config.TotalBatchTokens:N0} tokens per step: {config.MicroBatchSize} × {config.ContextLength} per micro-batch, {config.GradientAccumulationSteps} micro-batch{(config.GradientAccumulationSteps == 1 ? "" : "es")} |");
        Line($"| optimizer | AdamW (β1 {config.Beta1}, β2 {config.Beta2}, ε {config.Epsilon}, weight decay {config.WeightDecay} on matrices), gradient clipping {(config.GradientClip > 0 ? $"at {config.GradientClip}" : "off")} |");
        string schedule = config.Schedule == ScheduleKind.WarmupStableDecay
            ? string.Create(CultureInfo.InvariantCulture, $"warmup-stable-decay (the last {config.DecayFraction:P0} of the steps decaying)")
            : "cosine";
        Line($"| schedule | {config.WarmupSteps} warmup steps, then {schedule} from {config.LearningRate} to {config.MinLearningRate} |");
        Line($"| seed | {config.Seed} |");
        Line($"| wall time | {FormatDuration(facts.ElapsedSeconds)} |");
        Line($"| hardware | {facts.CpuModel}, {facts.Cores} core{(facts.Cores == 1 ? "" : "s")}, {facts.Threads} worker thread{(facts.Threads == 1 ? "" : "s")} |");
        Line($"| estimated compute | {flops:E2} FLOPs ({facts.FlopsPerToken:E3} per token: 6 per multiplying parameter plus attention) |");
        Line($"| peak | {facts.Peak.Description} |");
        Line($"| MFU | {FormatMfu(averageMfu)} over the wall time (validation, samples and checkpoints included){(facts.MedianStepMfu is { } median ? $"; median step {FormatMfu(median)}" : "")} |");
        Line();

        Line($"## Results");
        Line();
        if (facts.Validation is { } validation)
        {
            string accuracy = validation.Accuracy is { } a ? string.Create(CultureInfo.InvariantCulture, $", accuracy {a:P1} (targets ranked first)") : "";
            string perplexity = config.Objective == TrainingObjectives.Causal ? string.Create(CultureInfo.InvariantCulture, $" (perplexity {Math.Exp(validation.Loss):F1})") : "";
            Line($"Validation loss {validation.Loss.ToString("F4", CultureInfo.InvariantCulture)} nats/token{perplexity}{accuracy} at step {validation.Step}, over the first {config.EvalBatches} validation batches.");
        }
        else
        {
            Line($"No validation yet.");
        }
        if (facts.TaskScores is { Count: > 0 } tasks)
        {
            Line();
            Line($"Evaluation tasks (`{config.EvalTasks}`, the first {config.EvalTasksLimit} examples of each; acc_norm, and core: the mean of the scores centred on chance):");
            Line();
            Line($"| task | score |");
            Line($"|---|---|");
            foreach (var (task, score) in tasks) Line($"| {task} | {score:F4} |");
            Line();
        }
        if (facts.LastTrainLoss is { } train) Line($"Last training loss: {train.ToString("F4", CultureInfo.InvariantCulture)}.");
        Line($"The loss curve is `loss.svg` and every step is in `metrics.jsonl` in the run directory.");
        Line();

        Line($"## Intended use and limitations");
        Line();
        Line($"A small model trained on a CPU, for learning, experiments and tests of the LmForge toolkit. It has seen {facts.TokensSeen:N0} tokens, knows at most what they hold, and states falsehoods fluently: it is not for facts, advice or any decision that matters, and it has no safety tuning. Its biases are those of its data.");
        Line();

        Line($"## How to use");
        Line();
        Line($"```bash");
        switch (family)
        {
            case TransformerFamilies.Bert:
                Line($"lmforge fill-mask --checkpoint CHECKPOINT_DIR \"The capital of France is [MASK].\"");
                break;
            case TransformerFamilies.T5:
                Line($"lmforge generate --checkpoint CHECKPOINT_DIR \"The <extra_id_0> walks in <extra_id_1> park.\"");
                break;
            default:
                Line($"lmforge sample --checkpoint CHECKPOINT_DIR --prompt \"The\" --temperature 0.8 --top-k 40");
                if (chat) Line($"lmforge chat --checkpoint CHECKPOINT_DIR");
                Line($"lmforge eval --checkpoint CHECKPOINT_DIR --shards VALIDATION_SHARD");
                break;
        }
        Line($"lmforge train --resume RUN_DIR   # continue this run");
        Line($"```");
        return text.ToString();
    }

    /// <summary>The special tokens a Hugging Face tokenizer.json declares (its added_tokens with "special": true); empty when it cannot be read.</summary>
    public static IReadOnlyList<string> SpecialTokens(string tokenizerFile)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(tokenizerFile));
            if (!document.RootElement.TryGetProperty("added_tokens", out var added) || added.ValueKind != JsonValueKind.Array) return [];
            return [.. added.EnumerateArray()
                .Where(t => t.TryGetProperty("special", out var special) && special.ValueKind == JsonValueKind.True && t.TryGetProperty("content", out _))
                .Select(t => t.GetProperty("content").GetString() ?? "")];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return [];
        }
    }

    static string FormatMfu(double mfu) =>
        MachinePeak.Exceeds(mfu)
            ? "above 100 % (the peak is too low: state the machine's with LMFORGE_PEAK_GFLOPS or peakGflops)"
            : MachinePeak.Clamp(mfu).ToString("P1", CultureInfo.InvariantCulture);

    /// <summary>1.3M, 124M, 1.5B.</summary>
    public static string FormatCount(double count) => count switch
    {
        >= 1e12 => string.Create(CultureInfo.InvariantCulture, $"{count / 1e12:0.#}T"),
        >= 1e9 => string.Create(CultureInfo.InvariantCulture, $"{count / 1e9:0.#}B"),
        >= 1e6 => string.Create(CultureInfo.InvariantCulture, $"{count / 1e6:0.#}M"),
        >= 1e3 => string.Create(CultureInfo.InvariantCulture, $"{count / 1e3:0.#}K"),
        _ => count.ToString("0", CultureInfo.InvariantCulture),
    };

    /// <summary>"42 s", "7 min 3 s", "3 h 12 min", "2.5 days".</summary>
    public static string FormatDuration(double seconds) => seconds switch
    {
        < 60 => string.Create(CultureInfo.InvariantCulture, $"{seconds:0.#} s"),
        < 3600 => string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(seconds / 60):F0} min {seconds % 60:F0} s"),
        < 2 * 86400 => string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(seconds / 3600):F0} h {(seconds % 3600) / 60:F0} min"),
        < 3 * 365.25 * 86400 => string.Create(CultureInfo.InvariantCulture, $"{seconds / 86400:0.#} days"),
        < 1000 * 365.25 * 86400 => string.Create(CultureInfo.InvariantCulture, $"{seconds / (365.25 * 86400):0.#} years"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{seconds / (365.25 * 86400):N0} years"),
    };
}
