using System.Diagnostics;
using LmForge.Data.Knowledge;
using LmForge.Inference;
using LmForge.Training.Checkpoints;

namespace LmForge.Training.Tests.PostTraining;

/// <summary>
/// The main job (`lmforge quickstart`) at a tiny size, as a user runs it: a small corpus and the knowledge bases from
/// the cache (the data tests' excerpts of the real packages: no network), through pretraining, three fine-tunings,
/// probing and the hallucination table, to a chat model and its demo.
/// </summary>
public class MainJobTests
{
    [Fact]
    public async Task Raw_text_to_a_chat_model_with_the_hallucination_table()
    {
        string work = TestFiles.TemporaryDirectory("main-job");
        string cache = Path.Combine(work, "cache", "lmforge");
        string fixtures = Path.Combine(TestFiles.RepositoryRoot(), "tests", "LmForge.Data.Tests", "Knowledge", "Fixtures");
        string countries = Directory.CreateDirectory(Path.Combine(cache, "knowledge", CountriesList.Source)).FullName;
        foreach (string file in CountriesList.Files) File.Copy(Path.Combine(fixtures, "countries-list", file), Path.Combine(countries, file));
        File.Copy(Path.Combine(fixtures, "data.noun"), Path.Combine(Directory.CreateDirectory(Path.Combine(cache, "knowledge", WordNetPeople.Source)).FullName, "data.noun"));
        File.Copy(Path.Combine(fixtures, "elements.json"), Path.Combine(Directory.CreateDirectory(Path.Combine(cache, "knowledge", PeriodicTable.Source)).FullName, PeriodicTable.DataFile));
        string corpus = Path.Combine(work, "corpus.jsonl");
        File.WriteAllLines(corpus, Enumerable.Range(0, 120).Select(i => System.Text.Json.JsonSerializer.Serialize(new
        {
            text = string.Join(' ', Enumerable.Range(0, 40).Select(j => $"The {(i + j) % 7} boats sailed past the harbour in the morning light, number {i * j % 13}.")),
        })));
        string run = Path.Combine(work, "run");

        var start = new ProcessStartInfo("dotnet", [TestFiles.BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll"), "quickstart",
            "--corpus", corpus, "--out", run, "--steps", "40", "--vocab-size", "512"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["XDG_CACHE_HOME"] = Path.Combine(work, "cache");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string errors = await process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        string printed = await output;
        Assert.True(process.ExitCode == 0, $"{errors}\n{printed}");

        foreach (string stage in new[] { "1. Data", "4. Pretraining", "7. Knowledge probing", "9. Hallucination eval", "10. Talk to it" }) Assert.Contains(stage, printed);
        foreach (string model in new[] { "none", "made-up only", "probed" }) Assert.Contains(model, printed);
        Assert.Contains("user: Who is Orson Kovacs?", printed);
        Assert.Contains($"lmforge serve --checkpoint {Path.Combine(run, "chat")}", printed);
        Assert.True(File.Exists(Path.Combine(run, "probe", "decisions.jsonl")));
        Assert.Equal(3, Directory.GetFiles(Path.Combine(run, "eval"), "*.json").Length);

        string chat = CheckpointDirectory.Resolve(Path.Combine(run, "chat"), TrainerState.IsCheckpoint);
        Assert.True(new ChatPrompt(CheckpointTokenizer.Load(chat)).IsChatModel);
    }
}
