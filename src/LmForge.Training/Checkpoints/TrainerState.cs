using System.Text.Json;
using LmForge.Tensors;
using LmForge.Tensors.Optimization;
using LmForge.Tensors.SafeTensors;
using LmForge.Tokenization;
using LmForge.Training.Data;

namespace LmForge.Training.Checkpoints;

/// <summary>
/// Everything besides the weights that a resumed run needs to continue bit for bit: the step, the data position, the
/// seed (data order and samples are pure functions of seed and position, so no other random state exists), the
/// elapsed time, and the AdamW moments. Saved as trainer_state.json plus optimizer.safetensors. TrainingShards (file
/// names and token counts) lets a resume check that it reads the same data; null in checkpoints saved before it existed.
/// </summary>
public sealed record TrainerState(int Step, long TokensSeen, DataPosition DataPosition, int Seed, double ElapsedSeconds,
    IReadOnlyList<TokenShardFingerprint>? TrainingShards = null)
{
    public const string StateFile = "trainer_state.json";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string ConfigFile = "training_config.json";
    const string FirstMomentName = "adamw.first_moment";
    const string SecondMomentName = "adamw.second_moment";

    static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    // Deserialization fills what the file says; a resume needs counts that can be true of a run.
    void Check(string path)
    {
        string? problem =
            Step < 0 ? $"step {Step} is negative"
            : TokensSeen < 0 ? $"tokensSeen {TokensSeen} is negative"
            : DataPosition.Epoch < 0 || DataPosition.Shard < 0 || DataPosition.Batch < 0 ? $"dataPosition {DataPosition} has a negative field"
            : !(ElapsedSeconds >= 0) ? $"elapsedSeconds {ElapsedSeconds} is not a non-negative number"
            : TrainingShards is { } shards && shards.Any(s => s is null) ? "trainingShards holds null"
            : null;
        if (problem is not null) throw new InvalidDataException($"{path}: not a trainer state ({problem})");
    }

    public static bool IsCheckpoint(string directory) => File.Exists(Path.Combine(directory, StateFile));

    public void Save(string directory, AdamWOptimizer optimizer, TrainingConfig config)
    {
        File.WriteAllText(Path.Combine(directory, StateFile), JsonSerializer.Serialize(this, Options));
        File.WriteAllText(Path.Combine(directory, ConfigFile), config.ToJson());
        int[] shape = [(int)optimizer.FirstMoment.Length];
        SafeTensorsFile.Write(Path.Combine(directory, OptimizerFile),
        [
            new SafeTensorEntry(FirstMomentName, shape, optimizer.Backend.ToHost(optimizer.FirstMoment)),
            new SafeTensorEntry(SecondMomentName, shape, optimizer.Backend.ToHost(optimizer.SecondMoment)),
        ], new Dictionary<string, string> { ["step"] = optimizer.StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    public static TrainingConfig LoadConfig(string directory) => TrainingConfig.Load(Path.Combine(directory, ConfigFile));

    /// <summary>Reads the state and fills the optimizer's moments and step count.</summary>
    public static TrainerState Load(string directory, AdamWOptimizer optimizer)
    {
        string path = Path.Combine(directory, StateFile);
        TrainerState state;
        try
        {
            state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Options)
                ?? throw new InvalidDataException($"{path}: empty trainer state");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a trainer state ({UntrustedText.JsonError(e)})");
        }
        state.Check(path);
        using var file = SafeTensorsFile.Open(Path.Combine(directory, OptimizerFile));
        int[] shape = [(int)optimizer.FirstMoment.Length];
        // both moments are read and checked before either is copied, so a bad file leaves the optimizer as it was
        float[] first = file.ReadFloat32(FirstMomentName, shape);
        float[] second = file.ReadFloat32(SecondMomentName, shape);
        optimizer.Backend.CopyFromHost(optimizer.FirstMoment, first);
        optimizer.Backend.CopyFromHost(optimizer.SecondMoment, second);
        optimizer.StepCount = state.Step;
        return state;
    }
}
