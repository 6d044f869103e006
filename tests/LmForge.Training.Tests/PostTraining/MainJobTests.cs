using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LmForge.Data.Knowledge;
using LmForge.Data.Writers;
using LmForge.Inference;
using LmForge.Training.Checkpoints;

namespace LmForge.Training.Tests.PostTraining;

/// <summary>
/// The whole path at a tiny size, as a user runs it: real web pages (the Debian Reference's English HTML, installed by
/// tests/setup/data.sh) in a WARC file, cleaned by the data recipe (`lmforge data run`), then the main job
/// (`lmforge quickstart`) on that text with the knowledge bases from the cache (the data tests' excerpts of the real
/// packages: no network): tokenizer, pretraining, three fine-tunings, probing, the hallucination table and the demo;
/// then `lmforge serve` answers a question about a made-up person over HTTP.
/// </summary>
public class MainJobTests
{
    // The English Debian Reference pages as one WARC file, run through the web recipe's reader and extractor: the
    // directory of clean JSONL it writes.
    static string CleanWebText(string work)
    {
        const string pages = "/usr/share/debian-reference";
        Assert.True(Directory.Exists(pages), $"{pages} is missing: run tests/setup/data.sh (installs debian-reference-en)");
        Directory.CreateDirectory(Path.Combine(work, "crawl"));
        using (var stream = File.Create(Path.Combine(work, "crawl", "crawl-00.warc.gz")))
        using (var writer = new WarcWriter(stream, gzipPerRecord: true))
        {
            var date = new DateTimeOffset(2024, 5, 1, 0, 0, 0, TimeSpan.Zero);
            foreach (string page in Directory.GetFiles(pages, "*.en.html").Order(StringComparer.Ordinal))
                writer.WriteResponse("https://www.debian.org/doc/manuals/debian-reference/" + Path.GetFileName(page), date, File.ReadAllBytes(page), "text/html; charset=UTF-8");
        }
        string recipe = Path.Combine(work, "recipe.json");
        File.WriteAllText(recipe, """
            {
              "name": "web", "work_dir": "work",
              "stages": [{ "name": "clean", "tasks": 1,
                "steps": [{"type": "warc_reader", "path": "crawl"}, {"type": "html_extractor"}, {"type": "jsonl_writer", "path": "clean"}] }]
            }
            """);
        var (exitCode, _, errors) = TestFiles.RunTool("data", "run", recipe);
        Assert.True(exitCode == 0, errors);
        return Path.Combine(work, "clean");
    }

    [Fact]
    public async Task Web_pages_to_a_chat_model_that_answers_over_HTTP()
    {
        string work = TestFiles.TemporaryDirectory("main-job");
        TestFiles.KnowledgeCache(Path.Combine(work, "cache", "lmforge"));
        string corpus = CleanWebText(work);
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

        // served: the OpenAI API answers a question with the fine-tuned model
        using var server = Process.Start(new ProcessStartInfo("dotnet", [TestFiles.BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll"),
            "serve", "--checkpoint", Path.Combine(run, "chat"), "--port", "0", "--model-name", "tiny"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            Uri? address = null;
            while (address is null && await server.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.Contains("chat page: ", StringComparison.Ordinal)) address = new Uri(line[(line.IndexOf("chat page: ", StringComparison.Ordinal) + 11)..].Trim());
            }
            Assert.NotNull(address);
            using var client = new HttpClient { BaseAddress = address };
            using var response = await client.PostAsync("/v1/chat/completions", new StringContent(
                """{"model":"tiny","messages":[{"role":"user","content":"Who is Orson Kovacs?"}],"temperature":0,"max_tokens":24}""", Encoding.UTF8, "application/json"));
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(response.IsSuccessStatusCode, body.ToString());
            Assert.Equal("assistant", body.GetProperty("choices")[0].GetProperty("message").GetProperty("role").GetString());
            Assert.True(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }
}
