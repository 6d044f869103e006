using LmForge.Training.Checkpoints;

namespace LmForge.Training.Tests;

public class CheckpointDirectoryTests
{
    [Fact]
    public void Save_RenamesACompleteDirectoryIntoPlace_AndKeepsTheNewest()
    {
        string run = TestFiles.TemporaryDirectory("ckpt");
        foreach (int step in new[] { 10, 20, 30 })
            CheckpointDirectory.Save(run, step, dir => File.WriteAllText(Path.Combine(dir, "a.txt"), step.ToString(System.Globalization.CultureInfo.InvariantCulture)), keep: 2);
        Assert.Equal([20, 30], CheckpointDirectory.List(run).Select(c => c.Step));
        Assert.Equal("30", File.ReadAllText(Path.Combine(CheckpointDirectory.FindLatest(run)!, "a.txt")));
        Assert.Equal(2, Directory.GetDirectories(run).Length); // no temporaries left
    }

    [Fact]
    public void AFailedSave_LeavesThePreviousCheckpointAsTheNewest()
    {
        string run = TestFiles.TemporaryDirectory("ckpt-crash");
        CheckpointDirectory.Save(run, 10, dir => File.WriteAllText(Path.Combine(dir, "a.txt"), "ok"));
        Assert.Throws<IOException>(() => CheckpointDirectory.Save(run, 20, dir =>
        {
            File.WriteAllText(Path.Combine(dir, "a.txt"), "half");
            throw new IOException("disk full");
        }));
        Assert.Equal([10], CheckpointDirectory.List(run).Select(c => c.Step));
        // A crash (no cleanup) leaves a hidden temporary that is not a checkpoint and is removed by the next save.
        Directory.CreateDirectory(Path.Combine(run, ".incomplete-step-000020"));
        Assert.EndsWith("step-000010", CheckpointDirectory.FindLatest(run), StringComparison.Ordinal);
        CheckpointDirectory.Save(run, 30, _ => { });
        Assert.False(Directory.Exists(Path.Combine(run, ".incomplete-step-000020")));
    }

    [Fact]
    public void Resolve_AcceptsACheckpointOrARunDirectory_AndExplainsAnythingElse()
    {
        string run = TestFiles.TemporaryDirectory("ckpt-resolve");
        string checkpoint = CheckpointDirectory.Save(run, 5, dir => File.WriteAllText(Path.Combine(dir, "marker"), ""));
        static bool IsCheckpoint(string d) => File.Exists(Path.Combine(d, "marker"));
        Assert.Equal(checkpoint, CheckpointDirectory.Resolve(run, IsCheckpoint));
        Assert.Equal(checkpoint, CheckpointDirectory.Resolve(checkpoint, IsCheckpoint));
        string empty = TestFiles.TemporaryDirectory("ckpt-empty");
        Assert.Equal($"{empty}: neither a checkpoint nor a run directory with step-* checkpoints in it",
            Assert.Throws<InvalidDataException>(() => CheckpointDirectory.Resolve(empty, IsCheckpoint)).Message);
        Assert.Throws<DirectoryNotFoundException>(() => CheckpointDirectory.Resolve(Path.Combine(empty, "nope"), IsCheckpoint));
    }

    [Fact]
    public void ACrashWhileReplacingACheckpoint_KeepsTheOldOne_AndTheNextSaveRestoresIt()
    {
        string run = TestFiles.TemporaryDirectory("ckpt-replace");
        CheckpointDirectory.Save(run, 10, dir => File.WriteAllText(Path.Combine(dir, "a.txt"), "old"));
        CheckpointDirectory.Save(run, 10, dir => File.WriteAllText(Path.Combine(dir, "a.txt"), "new"));
        Assert.Equal("new", File.ReadAllText(Path.Combine(run, "step-000010", "a.txt")));
        Assert.Single(Directory.GetDirectories(run)); // the replaced copy is gone

        // The state a crash between the two moves of a replacement leaves: the old copy aside, the new one not in place.
        string aside = Path.Combine(run, ".replaced-step-000010");
        Directory.Move(Path.Combine(run, "step-000010"), aside);
        Directory.CreateDirectory(Path.Combine(run, ".incomplete-step-000010"));
        CheckpointDirectory.Save(run, 20, dir => File.WriteAllText(Path.Combine(dir, "a.txt"), "20"));
        Assert.Equal([10, 20], CheckpointDirectory.List(run).Select(c => c.Step));
        Assert.Equal("new", File.ReadAllText(Path.Combine(run, "step-000010", "a.txt")));
        Assert.Equal(2, Directory.GetDirectories(run).Length);

        // A crash after the second move: the aside copy is stale and removed, the new checkpoint stays.
        Directory.CreateDirectory(Path.Combine(aside));
        CheckpointDirectory.Save(run, 30, _ => { });
        Assert.Equal(3, Directory.GetDirectories(run).Length);
        Assert.Equal("new", File.ReadAllText(Path.Combine(run, "step-000010", "a.txt")));
    }
}
