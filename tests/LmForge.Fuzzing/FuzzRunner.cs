using LmForge.Data.Recipes;
using LmForge.Training;

namespace LmForge.Fuzzing;

public enum FuzzOutcome
{
    /// <summary>The reader returned normally.</summary>
    Accepted,
    /// <summary>A documented exception type with one line that names the file.</summary>
    Rejected,
    /// <summary>Anything else: another exception, a message on several lines or without the file, a hang, too much memory.</summary>
    Failed,
}

public sealed record FuzzResult(FuzzInput Input, FuzzOutcome Outcome, string Detail);

/// <summary>
/// Runs fuzz cases of one target: writes the case's files into a fresh directory, calls the target's reader on a thread
/// of its own with a time limit, and classifies what happened. A clean rejection is one of the exception types the
/// readers document for bad input and the CLI prints as a one-line error (<see cref="InvalidDataException"/>,
/// <see cref="FormatException"/> and so <c>TokenizerFormatException</c>, <see cref="IOException"/>,
/// <see cref="RecipeException"/>, <see cref="TrainingConfigException"/>) whose message is one line of at most
/// <see cref="MaxMessageChars"/> characters besides the paths, naming a path in the case directory. Anything else fails
/// the case, and so do a reader still running after the time limit and one whose managed allocations or peak resident
/// memory grow past a bound of a constant plus a multiple of the input's size.
/// </summary>
public sealed class FuzzRunner : IDisposable
{
    public const int MaxMessageChars = 600;
    const long ManagedBase = 64L << 20, ResidentBase = 384L << 20;
    const int BytesPerInputByte = 64;

    readonly string _root;
    long _cases;

    public FuzzRunner(FuzzTarget target, TimeSpan? timeLimit = null)
    {
        Target = target;
        TimeLimit = timeLimit ?? TimeSpan.FromSeconds(10);
        _root = Path.Combine(Path.GetTempPath(), "lmforge-fuzz", $"{target.Name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_root);
    }

    public FuzzTarget Target { get; }

    public TimeSpan TimeLimit { get; }

    public FuzzResult Run(int seed, long index) => Run(FuzzMutator.Mutate(Target, seed, index));

    public FuzzResult Run(FuzzInput input)
    {
        // A directory per case: a reader abandoned after a hang may still hold the previous one.
        string directory = Path.Combine(_root, $"case-{_cases++}");
        long inputBytes = 0;
        foreach (var (name, bytes) in input.Files)
        {
            if (bytes is null) continue;
            FuzzTarget.Write(directory, name, bytes);
            inputBytes += bytes.Length;
        }
        Directory.CreateDirectory(directory);
        try
        {
            return Classify(input, directory, inputBytes);
        }
        finally
        {
            TryDelete(directory);
        }
    }

    FuzzResult Classify(FuzzInput input, string directory, long inputBytes)
    {
        Exception? thrown = null;
        long managed = 0;
        var thread = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                Target.Read(directory);
            }
            catch (Exception e)
            {
                thrown = e;
            }
            managed = GC.GetAllocatedBytesForCurrentThread() - before;
        }, maxStackSize: 16 << 20) { IsBackground = true, Name = $"fuzz {Target.Name}" };
        long resident = PeakResidentMemory.Reset();
        thread.Start();
        if (!thread.Join(TimeLimit))
            return new FuzzResult(input, FuzzOutcome.Failed, $"hang: still running after {TimeLimit.TotalSeconds:0.#} s");
        long peakGrowth = PeakResidentMemory.Peak() - resident;
        long managedBound = ManagedBase + BytesPerInputByte * inputBytes, residentBound = ResidentBase + BytesPerInputByte * inputBytes;
        if (managed > managedBound)
            return new FuzzResult(input, FuzzOutcome.Failed, $"memory: allocated {managed:N0} managed bytes for {inputBytes:N0} input bytes (bound {managedBound:N0})");
        if (resident > 0 && peakGrowth > residentBound)
            return new FuzzResult(input, FuzzOutcome.Failed, $"memory: peak resident memory grew {peakGrowth:N0} bytes for {inputBytes:N0} input bytes (bound {residentBound:N0})");
        if (thrown is null) return new FuzzResult(input, FuzzOutcome.Accepted, "");
        string? problem = RejectionProblem(thrown, directory);
        return problem is null
            ? new FuzzResult(input, FuzzOutcome.Rejected, $"{thrown.GetType().Name}: {thrown.Message}")
            : new FuzzResult(input, FuzzOutcome.Failed, $"{problem}: {thrown.GetType().FullName}: {thrown.Message.ReplaceLineEndings("⏎")}\n{thrown.StackTrace}");
    }

    /// <summary>Why <paramref name="e"/> is not a clean rejection of input in <paramref name="directory"/>, or null when it is.</summary>
    public static string? RejectionProblem(Exception e, string directory)
    {
        if (e is not (InvalidDataException or FormatException or IOException or RecipeException or TrainingConfigException))
            return "not a documented exception type";
        string message = e.Message;
        if (message.Contains('\n') || message.Contains('\r')) return "message on several lines";
        if (!message.Contains(directory, StringComparison.Ordinal)) return "message does not name the file";
        if (message.Replace(directory, "", StringComparison.Ordinal).Length > MaxMessageChars) return $"message longer than {MaxMessageChars} characters besides the paths";
        return null;
    }

    static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    public void Dispose() => TryDelete(_root);
}
