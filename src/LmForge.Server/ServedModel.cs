using LmForge.Inference;
using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors.Cpu;
using LmForge.Tokenization;
using LmForge.Training.Checkpoints;

namespace LmForge.Server;

/// <summary>
/// The one model a server serves: its weights, its tokenizer, how its conversations are prompted, and the
/// <see cref="GenerationEngine"/> that batches every request's decoding.
/// </summary>
public sealed class ServedModel : IDisposable
{
    public ServedModel(string name, TransformerModel model, BpeTokenizer tokenizer, int maxBatch, int queueCapacity)
    {
        Name = name;
        Model = model;
        Tokenizer = tokenizer;
        ChatPrompt = new ChatPrompt(tokenizer);
        EndOfText = tokenizer.SpecialTokens.TryGetValue(CheckpointTokenizer.EndOfText, out int end) ? end : null;
        Engine = new GenerationEngine(model, tokenizer, maxBatch, queueCapacity);
        Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    /// <summary>
    /// Loads a checkpoint directory (weights, config.json and tokenizer.json) for serving. The name defaults to the
    /// run's directory name for a run's step-NNNNNN checkpoint, else the checkpoint directory's own name.
    /// </summary>
    /// <exception cref="IOException">A file is missing, naming it (the tokenizer too).</exception>
    public static ServedModel Load(string checkpointDirectory, string? name = null, int maxBatch = 32, int queueCapacity = 256)
    {
        var tokenizer = CheckpointTokenizer.Load(checkpointDirectory);
        var model = ModelCheckpoint.Load(checkpointDirectory, CpuBackend.Shared, trainable: false);
        try
        {
            return new ServedModel(name ?? DefaultName(checkpointDirectory), model, tokenizer, maxBatch, queueCapacity);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The id clients pass as <c>model</c>.</summary>
    public string Name { get; }

    public TransformerModel Model { get; }

    public BpeTokenizer Tokenizer { get; }

    public ChatPrompt ChatPrompt { get; }

    public GenerationEngine Engine { get; }

    /// <summary>Positions per request: prompt plus reply.</summary>
    public int Capacity => Engine.Capacity;

    /// <summary>The &lt;|endoftext|&gt; token, which ends a text completion and starts an empty prompt; null when the tokenizer has none.</summary>
    public int? EndOfText { get; }

    /// <summary>When the server loaded it (unix seconds), for the models list.</summary>
    public long Created { get; }

    public void Dispose()
    {
        Engine.Dispose();
        Model.Dispose();
    }

    private static string DefaultName(string directory)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        string own = Path.GetFileName(full);
        return own.StartsWith("step-", StringComparison.Ordinal) && Path.GetFileName(Path.GetDirectoryName(full)) is { Length: > 0 } run ? run : own;
    }
}
