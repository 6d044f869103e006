using System.Globalization;

namespace LmForge.Training.Checkpoints;

/// <summary>
/// The checkpoints of a run: subdirectories named step-NNNNNN of the run directory. A checkpoint is written into a
/// hidden temporary directory and renamed into place only when complete, so the newest "step-*" directory is never
/// half written; leftovers of a crashed save are removed on the next save. Replacing a checkpoint of the same step
/// moves the old one aside under its own prefix first; if a crash leaves it there without the new one in place, the
/// next save puts it back.
/// </summary>
public static class CheckpointDirectory
{
    const string Prefix = "step-";
    const string TemporaryPrefix = ".incomplete-";
    const string ReplacedPrefix = ".replaced-";

    public static string NameFor(int step) => Prefix + step.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>
    /// Creates checkpoint <paramref name="step"/> in <paramref name="runDirectory"/>: <paramref name="writeContents"/>
    /// fills a temporary directory, which is then renamed to step-NNNNNN (replacing an older one of the same step).
    /// Keeps the newest <paramref name="keep"/> checkpoints. Returns the checkpoint's path.
    /// </summary>
    public static string Save(string runDirectory, int step, Action<string> writeContents, int keep = int.MaxValue)
    {
        Directory.CreateDirectory(runDirectory);
        RestoreReplaced(runDirectory);
        RemoveIncomplete(runDirectory);
        string final = Path.Combine(runDirectory, NameFor(step));
        string temporary = Path.Combine(runDirectory, TemporaryPrefix + NameFor(step));
        Directory.CreateDirectory(temporary);
        try
        {
            writeContents(temporary);
        }
        catch
        {
            Directory.Delete(temporary, recursive: true);
            throw;
        }
        if (Directory.Exists(final))
        {
            // Replace: move the old one aside first so that a crash here leaves either the old (restored by the next
            // save) or the new one complete.
            string aside = Path.Combine(runDirectory, ReplacedPrefix + NameFor(step));
            Directory.Move(final, aside);
            Directory.Move(temporary, final);
            Directory.Delete(aside, recursive: true);
        }
        else
        {
            Directory.Move(temporary, final);
        }
        Prune(runDirectory, keep);
        return final;
    }

    /// <summary>Complete checkpoints of a run, oldest first, as (step, path).</summary>
    public static List<(int Step, string Path)> List(string runDirectory)
    {
        if (!Directory.Exists(runDirectory)) return [];
        var found = new List<(int, string)>();
        foreach (string directory in Directory.GetDirectories(runDirectory, Prefix + "*"))
        {
            string name = Path.GetFileName(directory);
            if (int.TryParse(name.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int step))
                found.Add((step, directory));
        }
        found.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return found;
    }

    /// <summary>The newest complete checkpoint of a run, or null when it has none.</summary>
    public static string? FindLatest(string runDirectory) => List(runDirectory) is { Count: > 0 } all ? all[^1].Path : null;

    /// <summary>
    /// Resolves what a user passed to --resume or --checkpoint: a checkpoint directory, or a run directory (its newest
    /// checkpoint). <paramref name="isCheckpoint"/> says whether a directory holds a checkpoint.
    /// </summary>
    public static string Resolve(string path, Func<string, bool> isCheckpoint)
    {
        if (!Directory.Exists(path))
            throw new DirectoryNotFoundException($"{path}: no such checkpoint or run directory");
        if (isCheckpoint(path)) return path;
        return FindLatest(path) is { } latest && isCheckpoint(latest)
            ? latest
            : throw new InvalidDataException($"{path}: neither a checkpoint nor a run directory with step-* checkpoints in it");
    }

    static void Prune(string runDirectory, int keep)
    {
        var all = List(runDirectory);
        for (int i = 0; i < all.Count - keep; i++) Directory.Delete(all[i].Path, recursive: true);
    }

    /// <summary>A checkpoint moved aside by a replacement that crashed goes back in place, or away if the new one made it.</summary>
    static void RestoreReplaced(string runDirectory)
    {
        foreach (string aside in Directory.GetDirectories(runDirectory, ReplacedPrefix + "*"))
        {
            string final = Path.Combine(runDirectory, Path.GetFileName(aside)[ReplacedPrefix.Length..]);
            if (Directory.Exists(final)) Directory.Delete(aside, recursive: true);
            else Directory.Move(aside, final);
        }
    }

    static void RemoveIncomplete(string runDirectory)
    {
        foreach (string directory in Directory.GetDirectories(runDirectory, TemporaryPrefix + "*"))
            Directory.Delete(directory, recursive: true);
    }
}
