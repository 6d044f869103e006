using System.Globalization;
using LmForge.Tokenization.Saving;

namespace LmForge.Training.Checkpoints;

/// <summary>
/// The checkpoints of a run: subdirectories named step-NNNNNN of the run directory. A checkpoint is written into a
/// hidden temporary directory and renamed into place only when complete, so a "step-*" directory is never half
/// written, and one is removed by renaming it to a hidden name first, so it is never half deleted either. Replacing a
/// checkpoint of the same step moves the old one aside under its own prefix first; if a crash leaves it there without
/// the new one in place, the next save or <see cref="Sweep"/> puts it back. Leftovers of a crash (hidden temporaries,
/// half-deleted checkpoints) are removed by <see cref="Sweep"/>, which every run start calls, and by the next save.
/// A resume from an older step moves the run's newer checkpoints to abandoned/ (<see cref="AbandonAfter"/>).
/// </summary>
public static class CheckpointDirectory
{
    const string Prefix = "step-";
    const string TemporaryPrefix = ".incomplete-";
    const string ReplacedPrefix = ".replaced-";
    const string RemovingPrefix = ".removing-";
    // The journal of an abandonment in progress: its step, written atomically before the first move, deleted after the
    // last. While it exists the checkpoints after its step are not listed, so a kill midway cannot leave a --resume on
    // the abandoned branch.
    const string AbandonJournal = ".abandon-after";

    /// <summary>Where a resume from an older step moves the run's newer checkpoints.</summary>
    public const string AbandonedDirectory = "abandoned";

    public static string NameFor(int step) => Prefix + step.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>
    /// Creates checkpoint <paramref name="step"/> in <paramref name="runDirectory"/>: <paramref name="writeContents"/>
    /// fills a temporary directory, which is then renamed to step-NNNNNN (replacing an older one of the same step).
    /// Keeps the newest <paramref name="keep"/> checkpoints. Returns the checkpoint's path.
    /// </summary>
    public static string Save(string runDirectory, int step, Action<string> writeContents, int keep = int.MaxValue)
    {
        Directory.CreateDirectory(runDirectory);
        Sweep(runDirectory);
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

    /// <summary>Complete checkpoints of a run, oldest first, as (step, path); none past an unfinished abandonment's step.</summary>
    public static List<(int Step, string Path)> List(string runDirectory)
    {
        var all = ListAll(runDirectory);
        if (AbandonedAfter(runDirectory) is int last) all.RemoveAll(c => c.Step > last);
        return all;
    }

    static List<(int Step, string Path)> ListAll(string runDirectory)
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

    /// <summary>
    /// Tidies a run directory before a run starts in it: a checkpoint a crashed replacement left aside goes back in
    /// place (or away, if the new one made it), hidden temporaries and half-deleted checkpoints are removed, and an
    /// abandonment a kill interrupted is finished.
    /// </summary>
    public static void Sweep(string runDirectory)
    {
        if (!Directory.Exists(runDirectory)) return;
        RestoreReplaced(runDirectory);
        RemoveIncomplete(runDirectory);
        FinishAbandoning(runDirectory);
    }

    /// <summary>
    /// For a run continuing from <paramref name="step"/>: moves its checkpoints after that step (another branch of
    /// the run, which a later --resume must not pick) to abandoned/step-NNNNNN, replacing older abandoned copies of
    /// the same steps. A journal makes it all-or-nothing for readers: once it starts, <see cref="List"/> no longer
    /// shows them, and a kill midway is finished by the next <see cref="Sweep"/>. Returns the new paths, oldest first.
    /// </summary>
    public static IReadOnlyList<string> AbandonAfter(string runDirectory, int step)
    {
        Sweep(runDirectory);
        if (!ListAll(runDirectory).Any(c => c.Step > step)) return [];
        AtomicFile.WriteText(Path.Combine(runDirectory, AbandonJournal), step.ToString(CultureInfo.InvariantCulture) + "\n");
        return FinishAbandoning(runDirectory);
    }

    // The step of an abandonment in progress, or null.
    static int? AbandonedAfter(string runDirectory)
    {
        string journal = Path.Combine(runDirectory, AbandonJournal);
        if (!File.Exists(journal)) return null;
        string text = File.ReadAllText(journal).Trim();
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int step) ? step
            : throw new InvalidDataException($"{journal}: \"{text}\" is not a step number; it records an interrupted move of checkpoints to {AbandonedDirectory}/ (move the step-* directories after the step you resumed from there yourself and delete the file)");
    }

    static List<string> FinishAbandoning(string runDirectory)
    {
        var moved = new List<string>();
        if (AbandonedAfter(runDirectory) is not int last) return moved;
        string abandoned = Directory.CreateDirectory(Path.Combine(runDirectory, AbandonedDirectory)).FullName;
        foreach (var (step, path) in ListAll(runDirectory).Where(c => c.Step > last))
        {
            string destination = Path.Combine(abandoned, NameFor(step));
            if (Directory.Exists(destination)) Remove(destination);
            Directory.Move(path, destination);
            moved.Add(destination);
        }
        File.Delete(Path.Combine(runDirectory, AbandonJournal));
        return moved;
    }

    static void Prune(string runDirectory, int keep)
    {
        var all = List(runDirectory);
        for (int i = 0; i < all.Count - keep; i++) Remove(all[i].Path);
    }

    // Renamed to a hidden name first, so a kill midway never leaves a half-deleted step-* directory that looks complete.
    static void Remove(string checkpoint)
    {
        string hidden = Path.Combine(Path.GetDirectoryName(checkpoint)!, RemovingPrefix + Path.GetFileName(checkpoint));
        if (Directory.Exists(hidden)) Directory.Delete(hidden, recursive: true);
        Directory.Move(checkpoint, hidden);
        Directory.Delete(hidden, recursive: true);
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
        foreach (string prefix in (ReadOnlySpan<string>)[TemporaryPrefix, RemovingPrefix])
        {
            foreach (string directory in Directory.GetDirectories(runDirectory, prefix + "*"))
                Directory.Delete(directory, recursive: true);
        }
    }
}
