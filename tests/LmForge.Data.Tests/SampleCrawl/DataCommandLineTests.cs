using System.Diagnostics;
using LmForge.Data.Tests.Execution;

namespace LmForge.Data.Tests.SampleCrawl;

/// <summary>
/// The commands as a newcomer types them, through the built CLI: `data sample-crawl`, `data run` on the shipped
/// recipe ending with its summary, `data inspect` of an input record and an output document, and a bad record
/// number as a one-line error.
/// </summary>
public class DataCommandLineTests
{
    private static (int ExitCode, string Output, string Errors) Lmforge(string workingDirectory, params string[] arguments)
    {
        var command = SlurmCluster.LmforgeCommand().Split(' ', 2);
        var start = new ProcessStartInfo(command[0], [command[1], .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result, errors);
    }

    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "LmForge.slnx"))) return Path.Combine(dir.FullName, relative);
        throw new DirectoryNotFoundException($"{AppContext.BaseDirectory}: no LmForge.slnx above the test output");
    }

    [Fact]
    public void Sample_crawl_run_and_inspect_as_the_readme_shows()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("examples/lists"));
        File.Copy(RepositoryFile("examples/fineweb-recipe.json"), dir.File("examples/fineweb-recipe.json"));
        foreach (var list in Directory.GetFiles(RepositoryFile("examples/lists"))) File.Copy(list, Path.Combine(dir.File("examples/lists"), Path.GetFileName(list)));

        var (code, output, errors) = Lmforge(dir.Path, "data", "sample-crawl", "--out", "examples/crawl", "--pages", "24", "--files", "2");
        Assert.True(code == 0, errors + output);
        Assert.Contains("planted: 1 exact and 1 near duplicates", output, StringComparison.Ordinal);
        Assert.Equal(2, Directory.GetFiles(dir.File("examples/crawl"), "*.warc.gz").Length);

        (code, output, errors) = Lmforge(dir.Path, "data", "run", "examples/fineweb-recipe.json", "--workers", "2");
        Assert.True(code == 0, errors + output);
        foreach (var line in new[] { "fineweb-mini: documents and characters per stage, step and rule", "    blocked_domain", "  minhash_filter",
                     "documents in:       ", "duplicates removed: ", "PII replaced:       ", "languages found:    en ",
                     "clean output:       examples/clean (look at it: lmforge data inspect examples/clean/00000.jsonl.gz)",
                     "removed documents:  examples/removed/<step>/" })
            Assert.Contains(line, output, StringComparison.Ordinal);

        string warc = Directory.GetFiles(dir.File("examples/crawl"), "*.warc.gz").Order(StringComparer.Ordinal).First();
        (code, output, errors) = Lmforge(dir.Path, "data", "inspect", warc, "--record", "3");
        Assert.True(code == 0, errors + output);
        Assert.Contains("WARC-Type:", output, StringComparison.Ordinal);
        Assert.Contains("Content-Type:", output, StringComparison.Ordinal);
        Assert.Contains("Charset:", output, StringComparison.Ordinal);
        Assert.Contains("Extracted main text (", output, StringComparison.Ordinal);

        string clean = Directory.GetFiles(dir.File("examples/clean"), "*.jsonl.gz").Order(StringComparer.Ordinal)
            .First(f => new FileInfo(f).Length > 20 && Lmforge(dir.Path, "data", "inspect", f).ExitCode == 0);
        (code, output, errors) = Lmforge(dir.Path, "data", "inspect", clean);
        Assert.Contains("metadata.language:", output, StringComparison.Ordinal);
        Assert.Contains("Text (", output, StringComparison.Ordinal);

        // A Shift_JIS page, in a fresh process: the declared charset is found (not guessed as windows-1252).
        using (var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(dir.File("examples/crawl/sample-crawl.json"))))
        {
            var pages = manifest.RootElement.GetProperty("pages").EnumerateArray()
                .Select(p => (File: p.GetProperty("file").GetString()!, Charset: p.GetProperty("charset").GetString()!)).ToList();
            var japanese = pages.First(p => p.Charset == "Shift_JIS");
            int record = 3 + 2 * pages.Where(p => p.File == japanese.File).ToList().IndexOf(japanese); // warcinfo, then request and response per page
            (code, output, errors) = Lmforge(dir.Path, "data", "inspect", Path.Combine("examples", "crawl", japanese.File), "--record", record.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(code == 0, errors + output);
            Assert.Contains("Shift_JIS (chosen from http header)", output, StringComparison.Ordinal);
            Assert.Contains(output, c => c is >= '\u3040' and <= '\u30FF'); // kana came back
        }

        (code, output, errors) = Lmforge(dir.Path, "data", "inspect", warc, "--record", "100000");
        Assert.Equal(1, code); // CliErrors.Failure
        Assert.Equal("", output);
        Assert.Matches(@"^error: .*--record 100000 is out of range: the file has \d+ records \(1\.\.\d+\)\n$", errors);
    }

    [Fact]
    public void Extract_prints_a_pages_main_text_as_text_json_from_a_warc_record_and_explained()
    {
        using var dir = new TempDirectory();
        const string article = "Les élèves ont lu le château, puis ils ont écrit une longue lettre à leurs parents pour raconter la visite du musée et du jardin.";
        string html = $"<html><head><title>t</title></head><body><nav><a href='/'>Accueil</a> <a href='/x'>Région</a></nav><article><p>{article}</p>" +
            "<p>Source : AFP</p></article><footer>Tous droits réservés</footer></body></html>";
        // Latin-1 bytes: read right only through the charset (the HTTP header in the WARC, the meta tag in the file).
        File.WriteAllBytes(dir.File("page.html"), System.Text.Encoding.Latin1.GetBytes(html.Replace("<title>", "<meta charset=\"iso-8859-1\"><title>", StringComparison.Ordinal)));
        using (var file = File.Create(dir.File("crawl.warc.gz")))
        using (var writer = new LmForge.Data.Writers.WarcWriter(file, gzipPerRecord: true, StepRunner.SeededIds()))
        {
            writer.WriteWarcinfo(DateTimeOffset.UnixEpoch, "software: test\r\n");
            writer.WriteResponse("https://example.fr/visite", DateTimeOffset.UnixEpoch, System.Text.Encoding.Latin1.GetBytes(html), "text/html; charset=ISO-8859-1");
        }

        var (code, output, errors) = Lmforge(dir.Path, "data", "extract", "page.html");
        Assert.True(code == 0, errors);
        Assert.Equal(article + "\n", output);

        (code, output, errors) = Lmforge(dir.Path, "data", "extract", "page.html", "--url", "https://example.fr/visite", "--format", "json");
        Assert.True(code == 0, errors);
        using (var json = System.Text.Json.JsonDocument.Parse(output))
        {
            Assert.Equal(article, json.RootElement.GetProperty("text").GetString());
            Assert.Equal("https://example.fr/visite", json.RootElement.GetProperty("url").GetString());
            Assert.Equal("iso-8859-1 (chosen from meta)", json.RootElement.GetProperty("charset").GetString());
        }

        (code, output, errors) = Lmforge(dir.Path, "data", "extract", "--warc", "crawl.warc.gz", "--record", "2", "--explain");
        Assert.True(code == 0, errors);
        Assert.Contains("charset ISO-8859-1 (chosen from http header)", output, StringComparison.Ordinal);
        Assert.Contains("(https://example.fr/visite)", output, StringComparison.Ordinal);
        Assert.Contains(article, output, StringComparison.Ordinal);
        Assert.Contains("<nav> 13 chars \"Accueil Région\": page-furniture tag", output, StringComparison.Ordinal);
        Assert.Contains("chosen as content (1):\n  <article>", output, StringComparison.Ordinal);
        Assert.Contains("\"Source : AFP\": credit, cross-link or call-to-action line", output, StringComparison.Ordinal);

        (code, output, errors) = Lmforge(dir.Path, "data", "extract", "--warc", "crawl.warc.gz", "--record", "1");
        Assert.Equal(1, code);
        Assert.Equal("error: crawl.warc.gz: record 1 is a warcinfo record, not a response\n", errors);

        (code, output, errors) = Lmforge(dir.Path, "data", "extract", "missing.html");
        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal("error: missing.html: no such file\n", errors);
    }
}
