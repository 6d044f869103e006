using System.Security.Cryptography;
using System.Text.Json;
using LmForge.Models.Checkpoints;
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
/// WeightsSha256 and OptimizerSha256 are the SHA-256 of model.safetensors and optimizer.safetensors as saved: a resume
/// refuses files that no longer match (damaged or changed); null in checkpoints saved before they existed.
/// Processes is the data-parallel rank count, whose global batches the data position counts (1 in older checkpoints).
/// </summary>
public sealed record TrainerState(int Step, long TokensSeen, DataPosition DataPosition, int Seed, double ElapsedSeconds,
    IReadOnlyList<TokenShardFingerprint>? TrainingShards = null, string? WeightsSha256 = null, string? OptimizerSha256 = null, int Processes = 1)
{
    public const string StateFile = "trainer_state.json";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string ConfigFile = "training_config.json";
    const string FirstMomentName = "adamw.first_moment";
    const string SecondMomentName = "adamw.second_moment";

    static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    // Deserialization fills what the file says; a resume needs counts that can be true of a run.
    void CheckFields(string path)
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

    /// <summary>Writes the optimizer's moments, the config and this state, with the hashes of the weights (already in <paramref name="directory"/>) and the moments.</summary>
    public void Save(string directory, AdamWOptimizer optimizer, TrainingConfig config)
    {
        File.WriteAllText(Path.Combine(directory, ConfigFile), config.ToJson());
        int[] shape = [(int)optimizer.FirstMoment.Length];
        SafeTensorsFile.Write(Path.Combine(directory, OptimizerFile),
        [
            new SafeTensorEntry(FirstMomentName, shape, optimizer.Backend.ToHost(optimizer.FirstMoment)),
            new SafeTensorEntry(SecondMomentName, shape, optimizer.Backend.ToHost(optimizer.SecondMoment)),
        ], new Dictionary<string, string> { ["step"] = optimizer.StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        string weights = Path.Combine(directory, ModelCheckpoint.WeightsFileName);
        var saved = this with
        {
            WeightsSha256 = File.Exists(weights) ? Sha256(weights) : null,
            OptimizerSha256 = Sha256(Path.Combine(directory, OptimizerFile)),
        };
        File.WriteAllText(Path.Combine(directory, StateFile), JsonSerializer.Serialize(saved, Options));
    }

    public static TrainingConfig LoadConfig(string directory) => TrainingConfig.Load(Path.Combine(directory, ConfigFile));

    /// <summary>The processes of the run that saved the checkpoint (1 when it does not say), without loading anything else.</summary>
    public static int ReadProcesses(string directory)
    {
        string path = Path.Combine(directory, StateFile);
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            return document.RootElement.TryGetProperty("processes", out var processes) && processes.TryGetInt32(out int count) ? count : 1;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a trainer state ({e.Message.Split('\n')[0]})");
        }
    }

    /// <summary>
    /// Reads the state, checks the weights and optimizer files against the hashes it recorded, and fills the
    /// optimizer's moments and step count (the weights are left to the model's loader).
    /// </summary>
    public static TrainerState Load(string directory, AdamWOptimizer optimizer)
    {
        var state = Verify(directory);
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

    /// <summary>
    /// Reads a checkpoint's state and checks model.safetensors and optimizer.safetensors against the SHA-256 it
    /// recorded, or fails with one line naming the file that differs.
    /// </summary>
    public static TrainerState Verify(string directory)
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
        state.CheckFields(path);
        Check(Path.Combine(directory, ModelCheckpoint.WeightsFileName), state.WeightsSha256, "weightsSha256");
        Check(Path.Combine(directory, OptimizerFile), state.OptimizerSha256, "optimizerSha256");
        return state;

        void Check(string file, string? recorded, string field)
        {
            if (recorded is null) return; // saved before checkpoints recorded hashes
            if (!File.Exists(file)) throw new FileNotFoundException($"{file}: missing from the checkpoint");
            string actual = Sha256(file);
            if (!string.Equals(actual, recorded, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"{file}: damaged or changed since it was saved (SHA-256 {actual}, {path} records {field} {recorded}); resume from another checkpoint");
        }
    }

    static string Sha256(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
